// Which bound a request counts against (src/edge-shedding.ts): the organiser's room controls are
// not counted with waiting buyers' polls, so a full room never sheds the organiser's pause.
import { describe, expect, it } from "vitest";
import { routeClassOf } from "../src/edge-shedding.ts";

describe("edge shedding's route classes", () => {
  it("when buyers join, poll or leave a room, they count against the queue bound; the organiser's stats and controls do not", () => {
    expect(routeClassOf("POST", "/api/events/:eventId/queue")).toBe("queue");
    expect(routeClassOf("GET", "/api/events/:eventId/queue")).toBe("queue");
    expect(routeClassOf("DELETE", "/api/events/:eventId/queue")).toBe("queue");
    expect(routeClassOf("PATCH", "/api/events/:eventId/queue")).toBe("other");
    expect(routeClassOf("GET", "/api/events/:eventId/queue/stats")).toBe("other");
  });

  it("when a buyer holds or orders, it counts against the checkout bound; health and the UI are never shed", () => {
    expect(routeClassOf("POST", "/api/events/:eventId/holds")).toBe("checkout");
    expect(routeClassOf("POST", "/api/orders")).toBe("checkout");
    expect(routeClassOf("GET", "/api/orders")).toBe("other");
    expect(routeClassOf("GET", "/healthz")).toBeUndefined();
    expect(routeClassOf("GET", "/")).toBeUndefined();
  });
});
