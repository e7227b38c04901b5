// The settlement sheet's print button (CSP: no inline scripts).
document.addEventListener("DOMContentLoaded", function () {
  var button = document.getElementById("print-sheet");
  if (button) { button.addEventListener("click", function () { window.print(); }); }
});
