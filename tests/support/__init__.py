"""What several test areas share: the session's cloud, payloads, running functions, seeded data."""
