"""Pure folds over the event log: `status` (query/stop answers), `callbacks` (webhook
notifications), `recovery` (what a new recorder generation continues from), `timeline` (notebook
rows); `runner` applies any of them and stores views with their log position."""
