// Draw every chart a page declares: <canvas data-chart="ID"> reads its spec
// from <script type="application/json" id="ID">. The spec is data only:
// {type, labels, series:[{label, data, color, dashed, fill, points, axis}],
//  y:{min,max,title}, x:{title, type}}; no code comes from the server.
(function () {
  "use strict";
  var COLORS = ["#1f5fbf", "#c62828", "#2e7d32", "#e69500", "#6a1b9a", "#00838f", "#5d4037", "#ad1457"];
  function dataset(s, i) {
    var color = s.color || COLORS[i % COLORS.length];
    var d = {
      label: s.label, data: s.data, borderColor: color, backgroundColor: s.fill ? color + "33" : color,
      borderWidth: s.width || 2, pointRadius: s.points === undefined ? 2 : s.points,
      borderDash: s.dashed ? [6, 4] : [], fill: s.fill || false, spanGaps: true, tension: 0,
      showLine: s.line !== false, pointStyle: s.marker || "circle", order: s.order || 0
    };
    if (s.type) { d.type = s.type; }
    if (s.stepped) { d.stepped = true; }
    return d;
  }
  function draw(canvas) {
    var node = document.getElementById(canvas.getAttribute("data-chart"));
    if (!node || !window.Chart) { return; }
    var spec = JSON.parse(node.textContent);
    var linear = spec.x && spec.x.type === "linear";
    var scales = {
      x: { type: linear ? "linear" : "category", title: { display: !!(spec.x && spec.x.title), text: spec.x && spec.x.title },
           min: spec.x && spec.x.min, max: spec.x && spec.x.max },
      y: { title: { display: !!(spec.y && spec.y.title), text: spec.y && spec.y.title },
           min: spec.y && spec.y.min, max: spec.y && spec.y.max, beginAtZero: spec.y && spec.y.zero }
    };
    new window.Chart(canvas, {
      type: spec.type || "line",
      data: { labels: spec.labels, datasets: spec.series.map(dataset) },
      options: { responsive: true, maintainAspectRatio: false, animation: false, parsing: true,
                 interaction: { mode: "nearest", intersect: false },
                 plugins: { legend: { position: "bottom" } }, scales: scales }
    });
  }
  function start() {
    var all = document.querySelectorAll("canvas[data-chart]");
    for (var i = 0; i < all.length; i++) { draw(all[i]); }
    document.documentElement.setAttribute("data-charts", String(all.length));
  }
  if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", start); } else { start(); }
  // Selects that change the page's query string submit on change (their
  // form still has a button for keyboards and no-script).
  document.addEventListener("change", function (e) {
    var t = e.target;
    if (t && t.matches && t.matches("select[data-autosubmit]") && t.form) { t.form.submit(); }
  });
}());
