// ZamIO console: draws the Chart.js charts a page declares (a <canvas data-chart="<id of a JSON
// script>">), on load and after every htmx swap. No other script: pages work without it.
(function () {
  "use strict";
  var PALETTE = ["#0b5cad", "#c2410c", "#146c2e", "#7c3aed", "#b3261e", "#0e7490", "#8a5300"];

  function draw(canvas) {
    if (canvas.zamioChart || typeof Chart === "undefined") { return; }
    var source = document.getElementById(canvas.dataset.chart);
    if (!source) { return; }
    var spec = JSON.parse(source.textContent);
    spec.datasets.forEach(function (set, i) {
      var colour = set.color || PALETTE[i % PALETTE.length];
      set.borderColor = set.borderColor || colour;
      set.backgroundColor = set.backgroundColor || (spec.type === "line" ? colour + "33" : colour);
      delete set.color;
    });
    canvas.zamioChart = new Chart(canvas, {
      type: spec.type,
      data: { labels: spec.labels, datasets: spec.datasets },
      options: {
        responsive: true, maintainAspectRatio: false, animation: false,
        plugins: { legend: { display: spec.datasets.length > 1 } },
        scales: { y: { beginAtZero: true, ticks: spec.counts ? { precision: 0 } : {} } }
      }
    });
  }

  function drawAll(root) {
    (root || document).querySelectorAll("canvas[data-chart]").forEach(draw);
  }

  document.addEventListener("DOMContentLoaded", function () { drawAll(document); });
  document.addEventListener("htmx:afterSettle", function (event) { drawAll(event.target); });
})();
