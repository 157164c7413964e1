// The console: signed out, the sign-in page; signed in, the shell around the routed page.
import { useEffect, useState } from "preact/hooks";
import { api, Me, Organisation, session, whenUnauthorized } from "./api";
import { Shell } from "./shell";
import { SignIn } from "./pages/signin";
import { ErrorBanner, Loading } from "./ui";

export type Signed = { me: Me; org: Organisation };

export function App() {
  const [signed, setSigned] = useState<Signed | null>(null);
  const [checking, setChecking] = useState(!!session.token());
  const [error, setError] = useState<unknown>(null);

  const load = async () => {
    setError(null);
    try {
      const [me, org] = await Promise.all([api<Me>("/v1/users/me"), api<Organisation>("/v1/organisations/me")]);
      setSigned({ me, org });
    } catch (e) {
      setSigned(null);
      if (session.token()) setError(e);
    } finally {
      setChecking(false);
    }
  };

  useEffect(() => {
    whenUnauthorized(() => setSigned(null));
    if (session.token()) load();
  }, []);

  if (checking) return <Loading what="your session" />;
  if (!signed)
    return (
      <>
        <ErrorBanner error={error} />
        <SignIn
          onSignedIn={(token) => {
            session.set(token);
            load();
          }}
        />
      </>
    );
  return (
    <Shell
      signed={signed}
      onSignOut={async () => {
        try {
          await api("/v1/auth/logout", { method: "POST" });
        } catch {
          /* the session may already be gone; signing out locally is what matters */
        }
        session.clear();
        setSigned(null);
      }}
    />
  );
}
