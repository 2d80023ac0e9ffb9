"""Catalogue metadata for harvesters: Bioschemas JSON-LD, a sitemap, and OAI-PMH.

pan-training.eu (ELIXIR TeSS) harvests training material in two ways: its
Bioschemas ingestor reads a sitemap and the schema.org JSON-LD of each page,
and its OAI-PMH ingestor reads Dublin Core records. This package builds both
from the published catalogue, as plain services; `metadata.routes` is their
HTTP edge.
"""
