// The file manager: uploads checked against the size limit before anything is sent (drop
// or pick), select-all in the folder table, and the editor's unsaved-change warning.
(function () {
  "use strict";

  function mib(bytes) { return (bytes / 1024 / 1024).toFixed(1) + " MiB"; }

  var files = document.getElementById("files");
  var form = document.getElementById("files-upload");
  if (files && form) {
    var max = parseInt(files.dataset.maxBytes, 10);
    var input = document.getElementById("files-input");
    var drop = document.getElementById("files-drop");
    var error = document.getElementById("files-upload-error");
    var tooLarge = function (list) {
      for (var i = 0; i < list.length; i++) {
        if (list[i].size > max) return list[i].name + " is " + mib(list[i].size) + ": at most " + mib(max) + " can be uploaded.";
      }
      return "";
    };
    var check = function () {
      var why = tooLarge(input.files);
      error.textContent = why;
      error.hidden = !why;
      return !why;
    };
    input.addEventListener("change", check);
    form.addEventListener("submit", function (event) { if (!check()) event.preventDefault(); });
    ["dragenter", "dragover"].forEach(function (name) {
      drop.addEventListener(name, function (event) { event.preventDefault(); drop.classList.add("over"); });
    });
    drop.addEventListener("dragleave", function () { drop.classList.remove("over"); });
    drop.addEventListener("drop", function (event) {
      event.preventDefault();
      drop.classList.remove("over");
      input.files = event.dataTransfer.files;
      if (check() && input.files.length) form.requestSubmit();
    });
  }

  var all = document.getElementById("files-all");
  if (all) {
    all.addEventListener("change", function () {
      document.querySelectorAll('#files-table input[name="paths"]').forEach(function (box) { box.checked = all.checked; });
    });
  }

  var editor = document.getElementById("editor-form");
  var text = document.getElementById("editor-text");
  if (editor && text && !text.readOnly) {
    var saved = text.value;
    var conflict = !!document.getElementById("editor-overwrite");  // what is typed is not on disk
    var state = document.getElementById("editor-state");
    var dirty = function () { return conflict || text.value !== saved; };
    text.addEventListener("input", function () { if (state) state.textContent = dirty() ? "Unsaved changes" : ""; });
    var leaving = false;
    editor.addEventListener("submit", function () { leaving = true; });
    window.addEventListener("beforeunload", function (event) {
      if (!leaving && dirty()) { event.preventDefault(); event.returnValue = ""; }
    });
  }
})();
