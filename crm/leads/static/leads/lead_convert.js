// The convert page: show the part of the form the chosen mode needs (new or existing customer),
// and the opportunity's fields only when one is asked for. Without a script everything shows.
function leadConvertSync(form) {
  const mode = form.querySelector("input[name=mode]:checked")?.value || "new";
  form.querySelectorAll("[data-mode-panel]").forEach((panel) => {
    panel.hidden = panel.dataset.modePanel !== mode;
  });
}

document.addEventListener("DOMContentLoaded", () => {
  const form = document.getElementById("convert-form");
  if (!form) return;
  leadConvertSync(form);
  form.addEventListener("change", (event) => {
    if (event.target.name === "mode") leadConvertSync(form);
  });
});
