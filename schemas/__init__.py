"""Contracts shared by every stage of pxstream: event shapes, domain ids, topics and settings.

Everything else imports from here and nowhere upstream, so this package must stay free of
Kafka, ClickHouse and Faust imports.
"""
