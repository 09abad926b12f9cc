// Dashboard charts, drawn with the vendored Chart.js from the table beside each chart.
// Progressive enhancement: the table is the content (and what screen readers use); without
// JavaScript, or without Chart.js, the page shows only the tables. The chart is decorative
// for assistive technology (aria-hidden), because the table next to it says the same.
//
// Markup: <figure data-chart="bar|doughnut|line" data-format="money|percent|number">
//           <figcaption>..</figcaption><div class="chart-canvas"></div>
//           <table> thead th[data-series] ... ; tbody tr: th (label), td[data-value] ... </table>
(function () {
  "use strict";
  if (typeof window.Chart === "undefined") { return; }

  var PALETTE = ["#0b6e4f", "#e07a1f", "#2f5f98", "#a4161a", "#6a4c93", "#4a5560",
                 "#8a9a1b", "#c2185b"];
  var locale = document.documentElement.lang === "en" ? "en-GB" : "nl-NL";
  var formats = {
    money: new Intl.NumberFormat(locale, { style: "currency", currency: "EUR" }),
    number: new Intl.NumberFormat(locale),
    percent: new Intl.NumberFormat(locale, { maximumFractionDigits: 1 })
  };

  function formatter(kind) {
    if (kind === "percent") { return function (v) { return formats.percent.format(v) + "%"; }; }
    return function (v) { return (formats[kind] || formats.number).format(v); };
  }

  function readTable(table) {
    var series = Array.prototype.map.call(
      table.querySelectorAll("thead th[data-series]"),
      function (th) { return { label: th.textContent.trim(), index: th.cellIndex, data: [] }; }
    );
    var labels = [];
    Array.prototype.forEach.call(table.querySelectorAll("tbody tr"), function (row) {
      labels.push(row.cells[0].textContent.trim());
      series.forEach(function (s) {
        var cell = row.cells[s.index];
        var value = cell ? parseFloat(cell.getAttribute("data-value")) : NaN;
        s.data.push(isNaN(value) ? null : value);
      });
    });
    return { labels: labels, series: series };
  }

  function draw(figure) {
    var table = figure.querySelector("table");
    var holder = figure.querySelector(".chart-canvas");
    if (!table || !holder) { return; }
    var kind = figure.getAttribute("data-chart");
    var format = formatter(figure.getAttribute("data-format") || "number");
    var data = readTable(table);
    if (!data.labels.length) { return; }
    var canvas = document.createElement("canvas");
    canvas.setAttribute("aria-hidden", "true");
    holder.appendChild(canvas);
    var round = kind === "doughnut";
    var datasets = data.series.map(function (s, i) {
      var colour = PALETTE[i % PALETTE.length];
      return {
        label: s.label,
        data: s.data,
        backgroundColor: round ? data.labels.map(function (_, j) {
          return PALETTE[j % PALETTE.length];
        }) : colour,
        borderColor: round ? "#ffffff" : colour,
        fill: false,
        tension: 0.2
      };
    });
    var options = {
      responsive: true,
      maintainAspectRatio: false,
      animation: false,
      plugins: {
        legend: { position: "bottom" },
        tooltip: {
          callbacks: {
            label: function (ctx) {
              var value = ctx.parsed && typeof ctx.parsed === "object" ?
                (figure.getAttribute("data-horizontal") ? ctx.parsed.x : ctx.parsed.y) : ctx.parsed;
              return (ctx.dataset.label ? ctx.dataset.label + ": " : "") + format(value);
            }
          }
        }
      }
    };
    if (!round) {
      var valueAxis = { beginAtZero: true, ticks: { callback: function (v) { return format(v); } } };
      options.scales = figure.getAttribute("data-horizontal") ?
        { x: valueAxis } : { y: valueAxis };
      if (figure.getAttribute("data-horizontal")) { options.indexAxis = "y"; }
    }
    figure.classList.add("has-chart");
    new window.Chart(canvas, { type: kind, data: { labels: data.labels, datasets: datasets },
                               options: options });
  }

  Array.prototype.forEach.call(document.querySelectorAll("figure[data-chart]"), draw);
}());
