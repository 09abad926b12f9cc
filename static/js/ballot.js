// Ballot page: show the remaining budget or points while the voter chooses.
// Progressive enhancement: without JavaScript the server checks the ballot and shows the same
// figures after "Review my vote". Texts come translated from data-text-* attributes.
(function () {
  "use strict";
  var form = document.querySelector("form[data-ballot]");
  var summary = document.getElementById("ballot-summary");
  if (!form || !summary) { return; }

  var locale = form.getAttribute("data-locale") || document.documentElement.lang || "nl";
  var euros = new Intl.NumberFormat(locale === "nl" ? "nl-NL" : locale, {
    style: "currency", currency: "EUR"
  });
  var isPoints = form.getAttribute("data-kind") === "cumulative";
  var costLimit = parseInt(form.getAttribute("data-cost-limit"), 10) || 0;
  var maxProjects = parseInt(form.getAttribute("data-max-projects"), 10) || 0;
  var maxPoints = parseInt(form.getAttribute("data-max-points"), 10) || 0;

  function money(cents) { return euros.format(cents / 100); }

  function fill(name, values) {
    var text = summary.getAttribute("data-text-" + name) || "";
    Object.keys(values).forEach(function (key) {
      text = text.split("{" + key + "}").join(values[key]);
    });
    return text;
  }

  function line(text) {
    var p = document.createElement("p");
    p.textContent = text;
    return p;
  }

  function update() {
    var lines = [];
    if (isPoints) {
      var used = 0;
      form.querySelectorAll("input[type=number][data-cost]").forEach(function (input) {
        var value = parseInt(input.value, 10);
        if (value > 0) { used += value; }
      });
      lines.push(fill("points", { left: String(Math.max(maxPoints - used, 0)), max: String(maxPoints) }));
      if (used > maxPoints) { lines.push(fill("points-over", { over: String(used - maxPoints) })); }
    } else {
      var count = 0;
      var total = 0;
      form.querySelectorAll("input[type=checkbox][data-cost]").forEach(function (box) {
        if (box.checked) {
          count += 1;
          total += parseInt(box.getAttribute("data-cost"), 10) || 0;
        }
      });
      lines.push(fill("chosen", { count: String(count), total: money(total) }));
      lines.push(fill("remaining", { amount: money(costLimit - total) }));
      if (form.hasAttribute("data-cost-limit") && total > costLimit && summary.hasAttribute("data-knapsack")) {
        lines.push(fill("over", { amount: money(total - costLimit) }));
      }
      if (maxProjects && count > maxProjects) {
        lines.push(fill("too-many", { max: String(maxProjects) }));
      }
    }
    summary.replaceChildren.apply(summary, lines.map(line));
  }

  form.addEventListener("input", update);
  form.addEventListener("change", update);
  update();
}());
