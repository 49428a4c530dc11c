// Live availability over a WebSocket that is expected to die: the server closes it on purpose
// from time to time and networks drop it. Reconnect with exponential backoff and jitter; the page
// also refreshes on focus, so it stays correct with no socket at all.
import type { Availability, SaleMessage } from "./api.ts";

export interface LiveConnection {
  close(): void;
}

export function watchAvailability(
  eventId: string,
  onMessage: (message: Availability | SaleMessage) => void,
  onState: (state: "live" | "reconnecting") => void,
  options: { sales?: boolean } = {},
): LiveConnection {
  let socket: WebSocket | undefined;
  let attempt = 0;
  let stopped = false;
  let timer: number | undefined;

  const connect = () => {
    if (stopped) return;
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    socket = new WebSocket(`${scheme}://${location.host}/api/events/${encodeURIComponent(eventId)}/live${options.sales ? "?sales=1" : ""}`);
    socket.addEventListener("message", (event) => {
      const data = JSON.parse(String(event.data)) as { type: string };
      if (data.type === "ready") {
        attempt = 0;
        onState("live");
      } else if (data.type === "availability" || data.type === "sale") {
        onMessage(data as Availability | SaleMessage);
      }
    });
    socket.addEventListener("close", (event) => {
      if (stopped) return;
      onState("reconnecting");
      // 4000 = the server rebalancing: come back quickly; anything else backs off.
      const base = event.code === 4000 ? 250 : Math.min(30_000, 1000 * 2 ** attempt);
      attempt += 1;
      timer = window.setTimeout(connect, base / 2 + Math.random() * base);
    });
  };
  connect();
  return {
    close() {
      stopped = true;
      window.clearTimeout(timer);
      socket?.close();
    },
  };
}
