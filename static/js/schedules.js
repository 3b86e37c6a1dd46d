// A schedule's form (templates/automation/_schedule_form.html): presets that write the cron
// expression, its words and next runs while typing (asked of the panel, which knows the
// time zones: GET automation:schedule_preview), a new schedule in the browser's time zone,
// and the Command field only for the console command action. Without JavaScript the form
// is the plain one: cron expression, time zone, action, command.
(function () {
  "use strict";

  function two(n) { return (n < 10 ? "0" : "") + n; }

  // "05:30" -> [30, 5]; a cleared time input counts as 05:00.
  function minuteHour(value) {
    var parts = (value || "05:00").split(":");
    return [parseInt(parts[1], 10) || 0, parseInt(parts[0], 10) || 0];
  }

  var PRESETS = {
    nightly: function (f) { var t = minuteHour(f.time.value); return t[0] + " " + t[1] + " * * *"; },
    hours: function (f) {
      var n = Math.min(12, Math.max(1, parseInt(f.hours.value, 10) || 1));
      return "0 " + (n === 1 ? "*" : "*/" + n) + " * * *";
    },
    weekly: function (f) { var t = minuteHour(f.time.value); return t[0] + " " + t[1] + " * * " + f.day.value; },
  };

  // The preset an expression was written by, so an edit page opens on it ("0 5 * * *" -> nightly).
  function recognise(cron, f) {
    var m = /^(\d+) (\d+) \* \* (\*|[0-6])$/.exec(cron);
    if (m) {
      f.time.value = two(+m[2]) + ":" + two(+m[1]);
      if (m[3] === "*") return "nightly";
      f.day.value = m[3];
      return "weekly";
    }
    m = /^0 (\*|\*\/(\d+)) \* \* \*$/.exec(cron);
    if (m) { f.hours.value = m[2] || "1"; return "hours"; }
    return "";
  }

  function ScheduleForm(form) {
    var self = this;
    this.form = form;
    this.cron = form.querySelector('[name="cron"]');
    this.zone = form.querySelector('[name="timezone"]');
    this.action = form.querySelector('[name="action"]');
    this.preset = {
      kind: form.querySelector("#preset"),
      time: form.querySelector("#preset-time"),
      hours: form.querySelector("#preset-hours"),
      day: form.querySelector("#preset-day"),
    };
    this.timer = null;
    this.asked = 0;

    if (form.hasAttribute("data-browser-zone")) this.browserZone();
    form.querySelector("#schedule-presets").hidden = false;
    this.preset.kind.value = recognise(this.cron.value.trim().replace(/\s+/g, " "), this.preset);
    this.showPresetFields();

    this.preset.kind.addEventListener("change", function () { self.showPresetFields(); self.applyPreset(); });
    [this.preset.time, this.preset.hours, this.preset.day].forEach(function (input) {
      input.addEventListener("input", function () { self.applyPreset(); });
      input.addEventListener("change", function () { self.applyPreset(); });
    });
    this.cron.addEventListener("input", function () { self.preset.kind.value = ""; self.showPresetFields(); self.later(); });
    this.zone.addEventListener("input", function () { self.later(); });
    this.zone.addEventListener("change", function () { self.later(); });
    this.action.addEventListener("change", function () { self.followAction(); });
    this.followAction();
    this.preview();
  }

  // A new schedule starts in the zone of the person's browser, when the panel knows it as a place.
  ScheduleForm.prototype.browserZone = function () {
    var zone = "";
    try { zone = Intl.DateTimeFormat().resolvedOptions().timeZone || ""; } catch (e) { return; }
    if (zone === "Etc/UTC" || zone === "Etc/GMT") zone = "UTC";
    var known = this.form.querySelector('#time-zones option[value="' + zone.replace(/"/g, "") + '"]');
    if (known) this.zone.value = zone;
  };

  ScheduleForm.prototype.showPresetFields = function () {
    var kind = this.preset.kind.value;
    this.form.querySelectorAll("[data-preset]").forEach(function (label) {
      label.hidden = label.dataset.preset.split(" ").indexOf(kind) === -1;
    });
  };

  ScheduleForm.prototype.applyPreset = function () {
    var write = PRESETS[this.preset.kind.value];
    if (!write) return;
    this.cron.value = write(this.preset);
    this.preview();
  };

  // The Command field is for the console command action only.
  ScheduleForm.prototype.followAction = function () {
    var field = this.form.querySelector("#field-command");
    if (field) field.hidden = this.action.value !== "command";
  };

  ScheduleForm.prototype.later = function () {
    var self = this;
    clearTimeout(this.timer);
    this.timer = setTimeout(function () { self.preview(); }, 250);
  };

  ScheduleForm.prototype.preview = function () {
    var self = this;
    var cron = this.cron.value.trim();
    var box = this.form.querySelector("#schedule-preview");
    if (!cron) { box.hidden = true; return; }
    var asked = ++this.asked;
    var url = this.form.dataset.preview + "?cron=" + encodeURIComponent(cron) +
      "&timezone=" + encodeURIComponent(this.zone.value.trim());
    fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) { return response.json(); })
      .then(function (answer) { if (asked === self.asked) self.show(answer); })
      .catch(function () { /* offline for a moment: the next keystroke asks again */ });
  };

  ScheduleForm.prototype.show = function (answer) {
    var box = this.form.querySelector("#schedule-preview");
    var error = box.querySelector("#preview-error");
    var list = box.querySelector("#preview-next");
    box.hidden = false;
    error.hidden = !answer.detail;
    error.textContent = answer.detail || "";
    box.querySelector("#preview-description").textContent = answer.description || "";
    box.querySelector("#preview-zone").textContent = answer.timezone ? "(" + answer.timezone + ")" : "";
    var items = document.createDocumentFragment();
    (answer.next || []).forEach(function (run) {
      var li = document.createElement("li");
      var time = document.createElement("time");
      time.setAttribute("datetime", run.at);
      time.textContent = run.text;
      li.appendChild(time);
      items.appendChild(li);
    });
    list.replaceChildren(items);
  };

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("form.schedule-form").forEach(function (form) { new ScheduleForm(form); });
  });
})();
