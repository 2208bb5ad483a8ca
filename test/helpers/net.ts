/** Networking helpers for tests: everything listens on 127.0.0.1 (shared with `npm run dev`). */
export { freePort } from "../../scripts/dev/net";
