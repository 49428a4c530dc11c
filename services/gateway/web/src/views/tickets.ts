// Orders and tickets: the confirmation page of one order and "my tickets", each ticket with its
// code as a QR code (what the door scanner reads).
import QRCode from "qrcode";
import { api, describeError, formatMoney, type Order } from "../api.ts";
import { h, render } from "../dom.ts";

function ticketList(order: Order): HTMLUListElement {
  const list = h("ul", { class: "tickets", "aria-label": `Tickets of order ${order.id}` });
  for (const ticket of order.tickets) {
    const image = h("img", { alt: `QR code of ticket ${ticket.code}`, width: 160, height: 160 });
    void QRCode.toDataURL(ticket.code, { margin: 1, width: 160, errorCorrectionLevel: "M" }).then((url: string) => (image.src = url));
    const where = ticket.section ? `${ticket.section}, row ${ticket.row}, seat ${ticket.number}` : `Seat ${ticket.seatId}`;
    list.append(h("li", { class: "ticket" }, h("p", {}, h("strong", {}, where)), image, h("code", {}, ticket.code)));
  }
  return list;
}

export async function orderView(orderId: string): Promise<void> {
  try {
    const order = await api.getOrder(orderId);
    render(
      h("h1", {}, order.status === "confirmed" ? "You're going!" : "Order refunded"),
      h("p", {}, `Order ${order.id} · ${order.tickets.length} ticket${order.tickets.length === 1 ? "" : "s"} · ${formatMoney(order.totalCents)}`),
      ticketList(order),
      h("p", {}, h("a", { href: "#/tickets" }, "All my tickets"), " · ", h("a", { href: `#/events/${order.eventId}` }, "Back to the event")),
    );
  } catch (error) {
    render(h("h1", {}, "Order"), h("p", {}, describeError(error)));
  }
}

export async function myTicketsView(): Promise<void> {
  try {
    const orders = await api.orders();
    render(
      h("h1", {}, "My tickets"),
      orders.length === 0 ? h("p", {}, "No tickets yet. ", h("a", { href: "#/" }, "Find an event")) : null,
      ...orders.map((order) =>
        h("section", { class: "card", "aria-label": `Order ${order.id}` },
          h("h2", {}, h("a", { href: `#/orders/${order.id}` }, `Order ${order.id}`)),
          h("p", { class: "meta" }, `${order.status} · ${formatMoney(order.totalCents)}`),
          ticketList(order),
        ),
      ),
    );
  } catch (error) {
    render(h("h1", {}, "My tickets"), h("p", {}, describeError(error)));
  }
}
