import { render } from "preact";
import { App } from "./app";
import "./style.css";

const root = document.getElementById("app")!;
// The page's "Loading…" placeholder goes: Preact renders beside existing children.
root.replaceChildren();
render(<App />, root);
