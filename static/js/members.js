// Members forms: a role preset ticks its permissions (the server applies the preset too,
// so this is only what the boxes show), and remove/leave buttons ask first.
(function () {
  "use strict";
  const PRESETS = {
    admin: null, // everything but the team
    moderator: ["console.read", "console.command", "power.start", "power.stop", "power.restart", "jobs.cancel"],
    viewer: "read",
  };
  function wants(preset, name) {
    const rule = PRESETS[preset];
    if (rule === null) return !name.startsWith("members.");
    if (rule === "read") return name.endsWith(".read");
    return rule.includes(name);
  }
  document.querySelectorAll("select.preset").forEach(function (select) {
    select.addEventListener("change", function () {
      if (!select.value) return;
      select.form.querySelectorAll('input[name="permissions"]').forEach(function (box) {
        if (!box.disabled) box.checked = wants(select.value, box.value);
      });
    });
  });
  document.querySelectorAll("form.confirm").forEach(function (form) {
    form.addEventListener("submit", function (event) {
      if (!window.confirm(form.dataset.confirm)) event.preventDefault();
    });
  });
})();
