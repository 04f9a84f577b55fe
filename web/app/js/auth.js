// Sign-in. The token comes from the URL fragment (#token=..., which browsers never send to
// the server) or the paste box; it is kept in this tab's sessionStorage and the fragment is
// cleared, so the token leaves no trace in the address bar or history. The server checks it
// (GET /api/v1/me) before the page opens any socket.
const STORAGE_KEY = "swingsync.token";

export function storedToken() {
  const params = new URLSearchParams(location.hash.slice(1));
  const fromFragment = params.get("token");
  if (fromFragment) {
    sessionStorage.setItem(STORAGE_KEY, fromFragment);
    params.delete("token");
    const rest = params.toString();
    history.replaceState(null, "", location.pathname + location.search + (rest ? `#${rest}` : ""));
  }
  return sessionStorage.getItem(STORAGE_KEY);
}

export function rememberToken(token) {
  sessionStorage.setItem(STORAGE_KEY, token);
}

export function forgetToken() {
  sessionStorage.removeItem(STORAGE_KEY);
}

export class SignInError extends Error {}

// The caller as the server sees the token: {user_id, role}; throws SignInError with the server's reason.
export async function whoAmI(token) {
  let response;
  try {
    response = await fetch("/api/v1/me", { headers: { Authorization: `Bearer ${token}` } });
  } catch (error) {
    throw new SignInError(`cannot reach the server (${error.message})`);
  }
  const body = await response.json().catch(() => null);
  if (!response.ok) {
    const reason = body?.data?.message ?? `HTTP ${response.status}`;
    throw new SignInError(`token refused: ${reason}`);
  }
  return body;
}

// Fills and wires a sign-in panel: shows who is signed in, or why not, with a paste box.
// Resolves with {token, user_id, role} once a token the server accepts is in hand.
export function signIn(panel, { role } = {}) {
  // the venv's Python: a bare `python` outside it has no swingsync_fast
  const hint = `paste a token: in the repository run \`make token USER=YOU ROLE=${role ?? "player"}\` ` +
    `or \`.venv/bin/python -m swingsync_fast token YOU --role ${role ?? "player"}\``;
  panel.innerHTML = `<p data-testid="auth">Checking sign-in…</p>
    <form hidden><textarea rows="2"></textarea> <button type="submit">Sign in</button></form>
    <button class="sign-out" type="button" hidden>Sign out</button>`;
  const message = panel.querySelector("[data-testid=auth]");
  const form = panel.querySelector("form");
  const input = form.querySelector("textarea");
  input.placeholder = hint;
  const signOut = panel.querySelector("button.sign-out");
  // A new #token= on an open page (a same-document navigation): sign in again from scratch.
  window.addEventListener("hashchange", () => new URLSearchParams(location.hash.slice(1)).has("token") && location.reload());
  signOut.addEventListener("click", () => {
    forgetToken();
    location.reload();
  });
  return new Promise((resolve) => {
    const attempt = async (token) => {
      if (!token) {
        message.textContent = "Not signed in: no token. Open the link with #token=… or paste a token below.";
        form.hidden = false;
        return;
      }
      try {
        const me = await whoAmI(token);
        if (role && me.role !== role && me.role !== "admin") {
          throw new SignInError(`this page is for a ${role}; the token is for ${me.user_id} (${me.role})`);
        }
        rememberToken(token);
        message.textContent = `Signed in as ${me.user_id} (${me.role})`;
        form.hidden = true;
        signOut.hidden = false;
        resolve({ token, ...me });
      } catch (error) {
        forgetToken();
        message.textContent = `Not signed in: ${error.message}`;
        form.hidden = false;
      }
    };
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      attempt(input.value.trim());
    });
    attempt(storedToken());
  });
}
