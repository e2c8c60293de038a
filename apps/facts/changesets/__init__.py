"""Change sets: a bulk import reviewed as one unit (summary, conflicts, a seeded sample), not fact by fact.

The app's file set for this one concern: `files` reads an uploaded file row by row, `rows` checks and
inserts a chunk of rows, `actions` holds every write (the import, run by a job, and the review),
`queries` the reads, `serializers`/`api` the REST API and `views` the pages. The models (ChangeSet,
ChangeSetReview) stay in apps.facts.models: a change set's rows are facts.
"""
