// Sign in, create the first organisation on a fresh server, or accept an invitation.
import { useState } from "preact/hooks";
import { api } from "../api";
import { ErrorBanner, Notice } from "../ui";

type Mode = "signin" | "onboard" | "invite";

export function SignIn({ onSignedIn }: { onSignedIn: (token: string) => void }) {
  const [mode, setMode] = useState<Mode>("signin");
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const [notice, setNotice] = useState<string | null>(null);

  const submit = async (event: Event) => {
    event.preventDefault();
    const form = new FormData(event.currentTarget as HTMLFormElement);
    const value = (k: string) => String(form.get(k) ?? "");
    setBusy(true);
    setError(null);
    setNotice(null);
    try {
      if (mode === "invite") {
        await api("/v1/auth/accept-invite", {
          method: "POST",
          body: { token: value("token"), password: value("password") },
        });
        setMode("signin");
        setNotice("Your password is set: sign in with it.");
        return;
      }
      const answer =
        mode === "signin"
          ? await api("/v1/auth/login", { method: "POST", body: { email: value("email"), password: value("password") } })
          : await api("/v1/auth/onboard", {
              method: "POST",
              body: { email: value("email"), password: value("password"), organisation_name: value("organisation") },
            });
      onSignedIn(answer.access_token);
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  };

  const titles: Record<Mode, string> = {
    signin: "Sign in",
    onboard: "Create your organisation",
    invite: "Accept an invitation",
  };
  return (
    <main class="signin">
      <h1>Lakeward</h1>
      <nav class="tabs" aria-label="How to sign in">
        {(Object.keys(titles) as Mode[]).map((m) => (
          <button type="button" key={m} aria-pressed={mode === m} onClick={() => (setMode(m), setError(null))}>
            {titles[m]}
          </button>
        ))}
      </nav>
      <form onSubmit={submit} aria-label={titles[mode]}>
        <h2>{titles[mode]}</h2>
        <ErrorBanner error={error} />
        {notice && <Notice>{notice}</Notice>}
        {mode === "invite" ? (
          <label>
            Invitation token
            <input name="token" required autocomplete="off" />
          </label>
        ) : (
          <label>
            Email
            <input name="email" type="email" required autocomplete="username" />
          </label>
        )}
        {mode === "onboard" && (
          <label>
            Organisation name
            <input name="organisation" required />
          </label>
        )}
        <label>
          Password
          <input
            name="password"
            type="password"
            required
            autocomplete={mode === "signin" ? "current-password" : "new-password"}
          />
        </label>
        <button type="submit" class="primary" disabled={busy}>
          {mode === "invite" ? "Set password" : titles[mode]}
        </button>
      </form>
    </main>
  );
}
