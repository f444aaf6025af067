// The console's one script: confirmations before bulk actions. The pages'
// Content-Security-Policy bars inline handlers, so they live here. A form
// (or the button that submits it) says what to ask in data-confirm; "%d"
// becomes the number of deliveries ticked in a selection form.
document.addEventListener("submit", function (e) {
  var form = e.target;
  var message = (e.submitter && e.submitter.dataset.confirm) || form.dataset.confirm;
  if (!message) return;
  if (message.indexOf("%d") >= 0) {
    var ticked = form.querySelectorAll('input[name="id"]:checked').length;
    if (ticked === 0) {
      alert("Tick the deliveries first.");
      e.preventDefault();
      return;
    }
    message = message.replace("%d", ticked);
  }
  if (!confirm(message)) e.preventDefault();
});
