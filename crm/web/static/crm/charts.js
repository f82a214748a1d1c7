// Renders every <div data-chart="ID"> with the ECharts option built from the JSON in
// <script type="application/json" id="ID">. Data only in the page; no inline scripts (CSP).
document.addEventListener("DOMContentLoaded", () => {
  if (typeof echarts === "undefined") return;
  document.querySelectorAll("[data-chart]").forEach((el) => {
    const source = document.getElementById(el.dataset.chart);
    if (!source) return;
    const spec = JSON.parse(source.textContent);
    const chart = echarts.init(el);
    chart.setOption({
      tooltip: { trigger: "item" },
      legend: { bottom: 0 },
      color: ["#dc2626", "#f59e0b", "#9ca3af", "#2563eb", "#10b981", "#8b5cf6"],
      series: [{
        type: "pie",
        radius: ["45%", "70%"],
        avoidLabelOverlap: true,
        label: { formatter: "{b}\n{c}" },
        data: spec.data,
      }],
    });
    window.addEventListener("resize", () => chart.resize());
  });
});
