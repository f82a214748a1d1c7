// Opportunities pages: the kanban's drag and drop, the stage order in
// Settings, and the forecast charts. No inline scripts (CSP): data comes from the page.

function csrfToken() {
  try {
    return JSON.parse(document.body.getAttribute("hx-headers") || "{}")["X-CSRFToken"] || "";
  } catch (e) {
    return "";
  }
}

// --- Kanban: drag a card to another column = POST /api/v1/opportunities/{id}/stage ----------
function kanbanAlert(text) {
  const box = document.querySelector("[data-kanban-alert]");
  if (!box) return;
  box.textContent = text || "";
  box.hidden = !text;
}

function kanbanRefresh(board) {
  if (window.htmx) {
    window.htmx.ajax("GET", board.dataset.boardUrl, { target: "#kanban-board", swap: "outerHTML" });
  } else {
    window.location.reload();
  }
}

function kanbanInit(root) {
  const board = (root.querySelector ? root : document).querySelector("[data-kanban]") ||
    (root.matches && root.matches("[data-kanban]") ? root : null);
  if (!board || board.dataset.ready || typeof Sortable === "undefined") return;
  board.dataset.ready = "1";
  if (!board.dataset.editable) return;
  board.querySelectorAll(".kanban-cards").forEach((list) => {
    Sortable.create(list, {
      group: { name: "kanban", put: !list.dataset.retired },
      animation: 150,
      sort: false,  // the order inside a column is the list's (newest first), not a choice
      filter: "a",
      preventOnFilter: false,
      ghostClass: "kanban-ghost",
      chosenClass: "kanban-chosen",
      onEnd: async (evt) => {
        if (evt.from === evt.to) return;
        const card = evt.item;
        const snapBack = () => {
          evt.from.insertBefore(card, evt.from.children[evt.oldIndex] || null);
        };
        const url = board.dataset.moveUrl.replace("{id}", card.dataset.id);
        card.classList.add("kanban-saving");
        try {
          const response = await fetch(url, {
            method: "POST",
            credentials: "same-origin",
            headers: { "Content-Type": "application/json", "X-CSRFToken": csrfToken(), "Accept": "application/json" },
            body: JSON.stringify({ stage_id: Number(evt.to.dataset.stageId), version: Number(card.dataset.version) }),
          });
          const body = await response.json().catch(() => ({}));
          if (!response.ok) {
            snapBack();
            const fields = body.fields || {};
            const reason = (fields.stage_id || fields.version || [])[0] || body.message || board.dataset.failed;
            kanbanAlert(reason);
            return;
          }
          card.dataset.version = String(body.version);
          kanbanAlert("");
          kanbanRefresh(board);
        } catch (e) {
          snapBack();
          kanbanAlert(board.dataset.failed);
        } finally {
          card.classList.remove("kanban-saving");
        }
      },
    });
  });
}

document.addEventListener("DOMContentLoaded", () => kanbanInit(document));
document.addEventListener("htmx:afterSettle", () => kanbanInit(document));

// --- Settings → Stages: drag the rows, the order is saved at once --------------------------
document.addEventListener("DOMContentLoaded", () => {
  const form = document.querySelector("form[data-stage-order]");
  const rows = form?.querySelector("[data-sortable-rows]");
  if (!form || !rows || typeof Sortable === "undefined") return;
  const status = document.querySelector("[data-reorder-status]");
  Sortable.create(rows, {
    handle: ".drag-handle",
    animation: 150,
    onEnd: async (evt) => {
      if (evt.oldIndex === evt.newIndex) return;
      const ids = Array.from(rows.querySelectorAll("tr[data-id]")).map((tr) => Number(tr.dataset.id));
      let ok = false;
      let message = form.dataset.failed;
      try {
        const response = await fetch(form.action, {
          method: "POST",
          credentials: "same-origin",
          headers: { "Content-Type": "application/json", "X-CSRFToken": csrfToken() },
          body: JSON.stringify({ ordered_ids: ids }),
        });
        const body = await response.json().catch(() => ({}));
        ok = response.ok;
        message = body.message || message;
      } catch (e) {
        ok = false;
      }
      if (!ok) rows.insertBefore(evt.item, rows.children[evt.oldIndex + (evt.oldIndex > evt.newIndex ? 1 : 0)] || null);
      if (status) {
        status.textContent = message;
        status.className = "alert " + (ok ? "alert-success" : "alert-error");
        status.hidden = false;
      }
    },
  });
});

// --- Forecast charts: bars of weighted amount and best case ---------------------------------
function salesChartOption(spec, el) {
  const narrow = el.clientWidth < 480;
  const horizontal = el.dataset.horizontal === "1";
  const money = (v) => "¥" + Number(v).toLocaleString(undefined, { maximumFractionDigits: 0 });
  const category = { type: "category", data: spec.labels, axisTick: { show: false },
    axisLabel: { fontSize: narrow ? 10 : 12, rotate: !horizontal && narrow ? 45 : 0 } };
  const value = { type: "value", axisLabel: { formatter: (v) => (v >= 10000 ? (v / 10000) + "万" : v) },
    splitLine: { lineStyle: { color: "#eef0f4" } } };
  return {
    tooltip: { trigger: "axis", valueFormatter: money },
    legend: { top: 0 },
    color: ["#2563eb", "#93c5fd"],
    grid: { left: horizontal ? 8 : 48, right: 16, top: 32, bottom: narrow ? 48 : 28, containLabel: horizontal },
    xAxis: horizontal ? value : category,
    yAxis: horizontal ? { ...category, inverse: true } : value,
    series: spec.series.map((s) => ({ type: "bar", name: s.name, data: s.data, barMaxWidth: 24,
      itemStyle: { borderRadius: horizontal ? [0, 4, 4, 0] : [4, 4, 0, 0] } })),
  };
}

document.addEventListener("DOMContentLoaded", () => {
  if (typeof echarts === "undefined") return;
  document.querySelectorAll("[data-sales-chart]").forEach((el) => {
    const source = document.getElementById(el.dataset.salesChart);
    if (!source) return;
    const spec = JSON.parse(source.textContent);
    const chart = echarts.init(el);
    chart.setOption(salesChartOption(spec, el));
    window.addEventListener("resize", () => {
      chart.setOption(salesChartOption(spec, el), { replaceMerge: ["series"] });
      chart.resize();
    });
  });
});
