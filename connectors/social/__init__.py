"""Social media connectors (Bluesky Jetstream, Mastodon): public posts that name a provider."""
