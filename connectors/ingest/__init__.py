"""HTTP ingest API: GP practices, Healthwatch and web forms submit FeedbackEvents over HTTPS."""
