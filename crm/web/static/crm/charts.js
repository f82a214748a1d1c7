// Renders every <div data-chart="ID"> with the ECharts option built from the JSON in
// <script type="application/json" id="ID">. Data only in the page; no inline scripts (CSP).
// Options depend on the chart's width: on a phone the donut's labels would be cut off at
// the card's edges, so it shows the counts only and leaves the names to the legend.
const CRM_COLORS = ["#dc2626", "#f59e0b", "#9ca3af", "#2563eb", "#10b981", "#8b5cf6"];

function crmChartOption(spec, width) {
  const narrow = width < 480;
  if (spec.type === "bars") {
    return {
      tooltip: { trigger: "axis" },
      grid: { left: narrow ? 32 : 40, right: 12, top: 16, bottom: narrow ? 40 : 28 },
      xAxis: {
        type: "category",
        data: spec.labels,
        axisTick: { show: false },
        axisLabel: { rotate: narrow ? 45 : 0, fontSize: narrow ? 10 : 12 },
      },
      yAxis: { type: "value", minInterval: 1, splitLine: { lineStyle: { color: "#eef0f4" } } },
      series: [{
        type: "bar",
        name: spec.name,
        data: spec.data,
        barMaxWidth: 28,
        itemStyle: { color: "#2563eb", borderRadius: [4, 4, 0, 0] },
        label: { show: !narrow, position: "top", color: "#6b7280", fontSize: 11 },
      }],
    };
  }
  return {
    tooltip: { trigger: "item" },
    legend: { bottom: 0, itemGap: narrow ? 8 : 10, textStyle: { fontSize: narrow ? 11 : 12 } },
    color: CRM_COLORS,
    series: [{
      type: "pie",
      radius: narrow ? ["38%", "60%"] : ["45%", "70%"],
      center: ["50%", "45%"],
      avoidLabelOverlap: true,
      label: narrow
        ? { formatter: "{c}", fontSize: 12 }
        : { formatter: "{b}\n{c}", alignTo: "edge", edgeDistance: 8 },
      labelLine: { length: narrow ? 6 : 12, length2: narrow ? 6 : 10 },
      data: spec.data,
    }],
  };
}

document.addEventListener("DOMContentLoaded", () => {
  if (typeof echarts === "undefined") return;
  document.querySelectorAll("[data-chart]").forEach((el) => {
    const source = document.getElementById(el.dataset.chart);
    if (!source) return;
    const spec = JSON.parse(source.textContent);
    const chart = echarts.init(el);
    chart.setOption(crmChartOption(spec, el.clientWidth));
    window.addEventListener("resize", () => {
      chart.setOption(crmChartOption(spec, el.clientWidth), { replaceMerge: ["series"] });
      chart.resize();
    });
  });
});
