"use strict";
// Filters: reveal the form, then show only the items that match every choice, the questions
// that still hold one, and the answers those items compare. The choices live in the address,
// per report (#r2.model=…&r2.verdict=…), so a filtered view can be linked.
const FILTERS = ["model", "category", "verdict"];
const forms = Array.from(document.querySelectorAll("form.filters"));
const key = (form, name) => form.dataset.section.replace(/-items$/, "") + "." + name;
const preset = new URLSearchParams(location.hash.slice(1));
for (const form of forms) {
  for (const name of FILTERS) {
    const want = preset.get(key(form, name));
    const select = form.elements[name];
    if (want !== null && Array.from(select.options).some((o) => o.value === want)) select.value = want;
  }
  const section = document.getElementById(form.dataset.section);
  const questions = Array.from(section.querySelectorAll("article.q"));
  const apply = () => {
    const model = form.elements.model.value;
    const category = form.elements.category.value;
    const verdict = form.elements.verdict.value;
    let shown = 0;
    for (const q of questions) {
      const inCategory = !category || q.dataset.category === category;
      const seen = new Set();
      for (const item of q.querySelectorAll(".item")) {
        const models = JSON.parse(item.dataset.models);
        const verdicts = JSON.parse(item.dataset.verdict);
        const ok = inCategory && (!model || models.includes(model)) && (!verdict || verdicts.includes(verdict));
        item.hidden = !ok;
        if (ok) { shown += 1; models.forEach((m) => seen.add(m)); }
      }
      q.hidden = seen.size === 0;
      for (const a of q.querySelectorAll(".answer")) a.hidden = !seen.has(a.dataset.model);
    }
    form.elements.count.value = shown + " shown";
  };
  form.addEventListener("change", () => {
    apply();
    const chosen = new URLSearchParams();
    for (const f of forms) {
      for (const name of FILTERS) if (f.elements[name].value) chosen.set(key(f, name), f.elements[name].value);
    }
    history.replaceState(null, "", "#" + chosen.toString());
  });
  form.hidden = false;
  apply();
}
document.documentElement.dataset.script = "ready";
