// Settings → Lead assignment: drag the rows, the order is saved at once (like the stages).
function leadRulesCsrf() {
  const input = document.querySelector("input[name=csrfmiddlewaretoken]");
  return input ? input.value : "";
}

document.addEventListener("DOMContentLoaded", () => {
  const form = document.querySelector("form[data-rule-order]");
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
          headers: { "Content-Type": "application/json", "X-CSRFToken": leadRulesCsrf() },
          body: JSON.stringify({ ordered_ids: ids }),
        });
        const body = await response.json().catch(() => ({}));
        ok = response.ok;
        message = body.message || message;
      } catch (e) {
        ok = false;
      }
      if (!ok) rows.insertBefore(evt.item, rows.children[evt.oldIndex + (evt.oldIndex > evt.newIndex ? 1 : 0)] || null);
      if (ok) {
        // The arrows follow the new order.
        const buttons = rows.querySelectorAll("tr[data-id]");
        buttons.forEach((tr, i) => {
          const [up, down] = tr.querySelectorAll(".row-actions button");
          if (up) up.disabled = i === 0;
          if (down) down.disabled = i === buttons.length - 1;
        });
      }
      if (status) {
        status.textContent = message;
        status.className = "alert " + (ok ? "alert-success" : "alert-error");
        status.hidden = false;
      }
    },
  });
});

// The rule form: the user field for "a user", the team field for "round-robin".
document.addEventListener("DOMContentLoaded", () => {
  const form = document.querySelector("form[data-testid=rule-form]");
  if (!form) return;
  const field = (id) => form.querySelector(`#${id}`)?.closest(".field");
  const sync = () => {
    const target = form.querySelector("input[name=target]:checked")?.value || "user";
    const user = field("id_user");
    const team = field("id_department");
    if (user) user.hidden = target !== "user";
    if (team) team.hidden = target !== "round_robin";
  };
  sync();
  form.addEventListener("change", (event) => {
    if (event.target.name === "target") sync();
  });
});
