-- The seat map is read in pages by seat id (inventory.seats.v1 keyset pagination): one index range
-- scan per page instead of sorting the whole event's seats for every page.
CREATE INDEX "seats_event_seat_idx" ON inventory.seats ("event_id", "id");
