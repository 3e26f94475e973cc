// Copy buttons for reward codes (the page works without them: the code box selects whole on
// click). Loaded from this site only, as the content security policy requires.
document.querySelectorAll("[data-copy]").forEach((button) => {
  const code = document.getElementById(button.dataset.copy);
  const status = document.getElementById("copy-status");
  if (!code || !navigator.clipboard) return;
  button.hidden = false;
  button.addEventListener("click", () => {
    navigator.clipboard.writeText(code.textContent.trim()).then(
      () => {
        if (status) status.textContent = `Code ${code.textContent.trim()} copied.`;
      },
      () => {
        if (status) status.textContent = "The code could not be copied; select it and copy it.";
      },
    );
  });
});
