"""The transactional outbox: every task the web app sends is first a row written with its decision."""
