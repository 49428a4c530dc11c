-- One section's seats in id order (GET /api/events/:id/seats?section=…, v1.1): a stadium's plan
-- loads one section at a time, keyset-paged by seat id.
CREATE INDEX "seats_section_page_idx" ON inventory.seats ("event_id", "section_id", "id");
