"""The float part of one MES run, compiled with numba (see ``equal_shares`` for the method).

``mes_rounds`` plays MES rounds on the run's shared state (voter classes, their float money with
rigorous error bounds, the class history) exactly as ``_Run.evaluate`` / ``_Run.charge`` do with
numpy, but only as long as every decision is certified by the error bounds: which projects are
unaffordable, who pays all their money, and which project has the lowest price. At the first
round where that fails (a price too close to call, an exact tie, an affordability too close to
call) it returns ``NEEDS_EXACT`` before charging anybody in that round (it may have dropped
unaffordable projects and raised lower bounds, which stay true); the caller then plays that
round in Python with exact Fractions and calls the kernel again.

The floats are the same as numpy's, bit for bit (the tests compare the money of every class):
groups come in ascending key order as from ``np.bincount``, prices are summed one by one in that
order as ``_Run.evaluate`` does, and new classes are numbered in that order as ``_Run.charge``
does. Only the sums that feed the error bounds may be added in another order than numpy's
``dot``; the bounds hold for any summation order.

Compiled code is cached next to this file (``cache=True``), so only the first use after an
install or a change of this file pays the compile time.
"""

from __future__ import annotations

import numpy as np
from numba import njit

# A count-trailing-zeros intrinsic; numba's own, not re-exported elsewhere (used in _groups).
from numba.cpython.unsafe.numbers import trailing_zeros

# Same values as in equal_shares (a test checks it). Defined here, not imported, because numba
# freezes globals into the cached machine code and only notices changes to this file.
UNIT_ROUNDOFF = 2.0**-53
ZERO_CLASS = 1

DONE = 0  # no affordable project left
NEEDS_EXACT = 1  # the next round needs exact arithmetic: play it in Python

_UNAFFORDABLE = 0
_CERTIFIED = 1
_UNCERTAIN = 2
_FIXED_POINT_STEPS = 12
_RUN = 16  # see _sort_by


@njit(cache=True)
def _groups(
    project,
    sup_ptr,
    sup_voter,
    sup_weight,
    sup_code,
    widths,
    unit_weights,
    class_of_voter,
    total,
    seen,
    out_key,
    out_weight,
):
    """Supporter groups (key = class * width + utility code, total weight) in ascending key
    order, as ``_Run._groups`` has them. ``total`` (per key) and ``seen`` (a bit per key) are
    all 0 on entry and on exit.

    This is the hottest loop of a run, hence: branch-free (whether a supporter opens a new
    group is unpredictable, and a mispredicted branch per supporter doubled its time), and
    special loops for approval ballots (one utility code) and unweighted votes, which read
    less memory (a third and half less time). The keys come out in order through the bitmap
    ``seen`` instead of a sort."""
    width = widths[project]
    start, end = sup_ptr[project], sup_ptr[project + 1]
    count = 0
    if width == 1 and unit_weights:
        for i in range(start, end):
            key = np.int64(class_of_voter[sup_voter[i]])
            before = total[key]
            out_key[count] = key
            count += before == 0  # 0 means a new group
            total[key] = before + 1
    elif width == 1:
        for i in range(start, end):
            key = np.int64(class_of_voter[sup_voter[i]])
            before = total[key]
            out_key[count] = key
            count += before == 0  # weights are positive: 0 means a new group
            total[key] = before + sup_weight[i]
    else:
        for i in range(start, end):
            key = np.int64(class_of_voter[sup_voter[i]]) * width + sup_code[i]
            before = total[key]
            out_key[count] = key
            count += before == 0
            total[key] = before + sup_weight[i]
    first_word = len(seen)
    last_word = -1
    for g in range(count):
        word = out_key[g] >> 6
        seen[word] |= np.uint64(1) << np.uint64(out_key[g] & 63)
        first_word = min(first_word, word)
        last_word = max(last_word, word)
    g = 0
    for word in range(first_word, last_word + 1):
        bits = seen[word]
        seen[word] = 0
        while bits != 0:
            key = word * 64 + np.int64(trailing_zeros(bits))
            out_key[g] = key
            out_weight[g] = total[key]  # an integer below 2**53: exact as a float
            total[key] = 0
            g += 1
            bits &= bits - np.uint64(1)
    return count


@njit(cache=True)
def _split(key, width):
    """(class, utility code) of a group key; approval ballots (width 1) skip the division,
    which costs more than everything else done per group."""
    if width == 1:
        return key, 0
    return key // width, key % width


@njit(cache=True)
def _sort_by(primary, secondary, order, count):
    """Sort ``order[:count]`` (indices) in place by (primary[i], secondary[i]), ascending; the
    secondary values are distinct, so the order is unique (no stability question).

    A plain merge sort instead of ``np.argsort`` and array slicing: numba compiles those
    slowly (seconds each). It orders candidate projects by lower bound then index, and, when
    ``_poor_threshold`` fails, groups by money per utility then key (= numpy's stable argsort
    of the key-sorted groups)."""
    # Runs of _RUN items by insertion sort, then merge them pairwise.
    for low in range(0, count, _RUN):
        for i in range(low + 1, min(low + _RUN, count)):
            item = order[i]
            j = i - 1
            while j >= low and (
                primary[item] < primary[order[j]]
                or (primary[item] == primary[order[j]] and secondary[item] < secondary[order[j]])
            ):
                order[j + 1] = order[j]
                j -= 1
            order[j + 1] = item
    source = order
    target = np.empty(count, dtype=order.dtype)
    width = _RUN
    while width < count:
        for low in range(0, count, 2 * width):
            middle = min(low + width, count)
            high = min(low + 2 * width, count)
            i, j, out = low, middle, low
            while i < middle and j < high:
                a, b = source[i], source[j]
                if primary[b] < primary[a] or (
                    primary[b] == primary[a] and secondary[b] < secondary[a]
                ):
                    target[out] = b
                    j += 1
                else:
                    target[out] = a
                    i += 1
                out += 1
            while i < middle:
                target[out] = source[i]
                i += 1
                out += 1
            while j < high:
                target[out] = source[j]
                j += 1
                out += 1
        source, target = target, source
        width *= 2
    if source is not order:
        for i in range(count):
            order[i] = source[i]


@njit(cache=True, fastmath={"reassoc"})
def _poor_threshold(count, cost, total_utility, ratios, paid_if_poor, utility_if_rich):
    """Guess who pays all their money: returns a price such that exactly the groups with
    money per utility below it pay all they have (or -1.0 if no fixed point in a few steps).

    Iterates the price from ``cost / total utility`` upwards: groups below the price pay all
    they have, which raises the price for the others. Only a guess, which ``_price`` then
    certifies, so these sums may be added in any order (``reassoc`` lets them vectorize)."""
    price = cost / total_utility
    poor = -1
    for _ in range(_FIXED_POINT_STEPS):
        paid = 0.0
        rich_utility = 0.0
        now_poor = 0
        for g in range(count):
            below = ratios[g] < price
            paid += paid_if_poor[g] if below else 0.0
            rich_utility += 0.0 if below else utility_if_rich[g]
            now_poor += below
        if now_poor == poor:  # thresholds on the same ratios: same count, same groups
            return price
        if now_poor == count:
            return -1.0
        poor = now_poor
        price = (cost - paid) / rich_utility
    return -1.0


@njit(cache=True)
def _mark_poor(count, cost, total_utility, ratios, keys, paid_if_poor, utility_if_rich, poor):
    """Sets ``poor[g]`` for the groups that pay all their money, as ``_Run.evaluate`` guesses
    them (without sorting all groups when ``_poor_threshold`` finds them)."""
    price = _poor_threshold(count, cost, total_utility, ratios, paid_if_poor, utility_if_rich)
    if price >= 0.0:
        for g in range(count):
            poor[g] = ratios[g] < price
        return
    # No fixed point in a few steps: sort everything and scan, as numpy does.
    order = np.empty(count, dtype=np.int64)
    for g in range(count):
        order[g] = g
    _sort_by(ratios, keys, order, count)
    first_rich = count - 1
    paid_before = 0.0
    utility_from = 0.0
    for i in range(count):
        utility_from += utility_if_rich[order[i]]
    for i in range(count):
        if (cost - paid_before) / utility_from <= ratios[order[i]]:
            first_rich = i
            break
        paid_before += paid_if_poor[order[i]]
        utility_from -= utility_if_rich[order[i]]
    for i in range(count):
        poor[order[i]] = i < first_rich


@njit(cache=True)
def _tolerance(money, err, utility, rho, rho_err):
    return err + utility * rho_err + 4 * UNIT_ROUNDOFF * (money + rho * utility)


@njit(cache=True)
def _price(count, cost, total_utility, width, keys, weights, u_start, uval_f, money_f, err_f, poor):
    """Float price of a project from its groups, as ``_Run.evaluate``.

    Returns (status, rho, rho_err); with ``_CERTIFIED``, ``poor[g]`` says whether group g
    pays all its money."""
    gamma = (count + 8) * 2.0 * UNIT_ROUNDOFF
    money = np.empty(count)
    err = np.empty(count)
    utility = np.empty(count)
    ratios = np.empty(count)
    paid_if_poor = np.empty(count)
    utility_if_rich = np.empty(count)
    available = 0.0
    money_err = 0.0
    lowest = np.inf
    for g in range(count):
        c, code = _split(keys[g], width)
        money[g] = money_f[c]
        err[g] = err_f[c]
        utility[g] = uval_f[u_start + code]
        ratios[g] = money[g] / utility[g]
        lowest = min(lowest, ratios[g])
        paid_if_poor[g] = weights[g] * money[g]
        utility_if_rich[g] = weights[g] * utility[g]
        available += paid_if_poor[g]
        money_err += weights[g] * err[g]
    available_err = money_err + gamma * (available + money_err) + gamma * cost
    if available + available_err < cost:
        return _UNAFFORDABLE, 0.0, 0.0
    if available - available_err < cost:
        return _UNCERTAIN, 0.0, 0.0
    # Fast path: if nobody runs out of money, the price is cost / total utility, exactly.
    rho_all = cost / total_utility
    if lowest > rho_all:
        rho_err = 4 * UNIT_ROUNDOFF * rho_all
        certified = True
        for g in range(count):
            margin = money[g] - rho_all * utility[g]
            if not margin > _tolerance(money[g], err[g], utility[g], rho_all, rho_err):
                certified = False
                break
        if certified:
            for g in range(count):
                poor[g] = False
            return _CERTIFIED, rho_all, rho_err
    _mark_poor(count, cost, total_utility, ratios, keys, paid_if_poor, utility_if_rich, poor)
    # The price from that guess, added up in key order (the same float as ``_Run.evaluate``).
    paid = 0.0
    poor_err = 0.0
    denominator = 0.0
    for g in range(count):
        if poor[g]:
            paid += paid_if_poor[g]
            poor_err += weights[g] * err[g]
        else:
            denominator += utility_if_rich[g]
    rho = (cost - paid) / denominator
    paid_err = poor_err + gamma * (paid + money_err)
    denominator_err = gamma * denominator
    rho_err = 2.0 * (
        (paid_err + 2 * UNIT_ROUNDOFF * (cost + paid)) / denominator
        + rho * (denominator_err / denominator + 2 * UNIT_ROUNDOFF)
    )
    # Certify the guess of who pays all their money: every group must be clearly on its side.
    for g in range(count):
        margin = money[g] - rho * utility[g]
        tolerance = _tolerance(money[g], err[g], utility[g], rho, rho_err)
        if not (margin < -tolerance if poor[g] else margin > tolerance):
            return _UNCERTAIN, 0.0, 0.0
    return _CERTIFIED, rho, rho_err


@njit(cache=True)
def mes_rounds(
    # the election (``_Prepared``), per project in CSR form
    sup_ptr,
    sup_voter,
    sup_weight,
    sup_code,
    widths,
    u_ptr,
    uval_f,
    uval_i,
    cost_f,
    total_utility_f,
    max_support,
    unit_weights,
    # the run's state, updated in place
    remaining,
    lower_bound,
    class_of_voter,
    money_f,
    err_f,
    parent,
    paid_at,
    unit,
    counters,
    total,
    seen,
    # what was selected: project, float price, largest payment, and the selection's groups
    out_project,
    out_rho,
    out_largest,
    out_group_end,
    g_class,
    g_weight,
    g_unit,
    g_poor,
):
    """Play certified MES rounds; returns (DONE or NEEDS_EXACT, number of projects selected).

    ``counters`` holds [number of classes, number of selections before this call, number of
    group rows already used in ``g_*``]. Selection s of this call has its groups in rows
    ``out_group_end[s - 1]:out_group_end[s]`` (from ``counters[2]`` for s = 0)."""
    # Two sets of group buffers: the best project of the round so far, and the next one.
    best_keys = np.empty(max_support + 1, dtype=np.int64)  # + 1: see _groups
    best_weights = np.empty(max_support)
    best_poor = np.empty(max_support, dtype=np.bool_)
    keys = np.empty(max_support + 1, dtype=np.int64)
    weights = np.empty(max_support)
    poor = np.empty(max_support, dtype=np.bool_)
    by_bound = np.empty(len(remaining), dtype=np.int64)
    projects = np.arange(len(remaining))
    evaluated_low = np.empty(len(remaining))
    selected = 0
    rows = counters[2]
    while True:
        candidates = 0
        for project in range(len(remaining)):
            if remaining[project]:
                by_bound[candidates] = project
                candidates += 1
        _sort_by(lower_bound, projects, by_bound, candidates)
        best_high = np.inf
        best = -1
        best_count = 0
        best_rho = 0.0
        best_err = 0.0
        evaluations = 0
        for position in range(candidates):
            project = by_bound[position]
            if lower_bound[project] > best_high:
                break
            count = _groups(
                project,
                sup_ptr,
                sup_voter,
                sup_weight,
                sup_code,
                widths,
                unit_weights,
                class_of_voter,
                total,
                seen,
                keys,
                weights,
            )
            status, rho, rho_err = _price(
                count,
                cost_f[project],
                total_utility_f[project],
                widths[project],
                keys,
                weights,
                u_ptr[project],
                uval_f,
                money_f,
                err_f,
                poor,
            )
            if status == _UNAFFORDABLE:
                remaining[project] = False
                continue
            if status == _UNCERTAIN:
                return NEEDS_EXACT, selected
            lower_bound[project] = rho - rho_err
            evaluated_low[evaluations] = rho - rho_err
            evaluations += 1
            if rho + rho_err < best_high:
                best_high = rho + rho_err
                best, best_count, best_rho, best_err = project, count, rho, rho_err
                keys, best_keys = best_keys, keys
                weights, best_weights = best_weights, weights
                poor, best_poor = best_poor, poor
        if evaluations == 0:
            return DONE, selected
        contenders = 0
        for i in range(evaluations):
            if evaluated_low[i] <= best_high:
                contenders += 1
        if contenders > 1:
            return NEEDS_EXACT, selected  # too close for floats (often an exact tie)

        # Charge the winner's supporters, as ``_Run.charge`` (new classes in ascending key order).
        width = widths[best]
        u_start = u_ptr[best]
        num_classes = counters[0]
        paid_for = counters[1] + selected  # position of this selection in ``_Run.selections``
        largest = 0.0
        for g in range(best_count):
            key = best_keys[g]
            c, code = _split(key, width)
            money = money_f[c]
            utility = uval_f[u_start + code]
            payment = best_rho * utility
            largest = max(largest, min(money, payment))
            g_class[rows] = c
            g_weight[rows] = best_weights[g]
            g_unit[rows] = uval_i[u_start + code]
            g_poor[rows] = best_poor[g]
            rows += 1
            target = ZERO_CLASS
            if not best_poor[g]:
                target = num_classes
                money_f[target] = money - payment
                err_f[target] = (
                    err_f[c] + utility * best_err + 4 * UNIT_ROUNDOFF * (money + payment)
                )
                parent[target] = c
                paid_at[target] = paid_for
                unit[target] = uval_i[u_start + code]
                num_classes += 1
            total[key] = target  # from here on: the key's new class
        for i in range(sup_ptr[best], sup_ptr[best + 1]):
            voter = sup_voter[i]
            class_of_voter[voter] = total[np.int64(class_of_voter[voter]) * width + sup_code[i]]
        for g in range(best_count):
            total[best_keys[g]] = 0
        counters[0] = num_classes
        remaining[best] = False
        out_project[selected] = best
        out_rho[selected] = best_rho
        out_largest[selected] = largest
        out_group_end[selected] = rows
        selected += 1
