"""Documents of a battery (declarations of conformity, test reports, dismantling and safety
information): stored content-addressed in an object store, listed by the next passport version
under VC 2.0 `relatedResource` with `digestSRI` and `mediaType`, served at stable URLs (public
ones) or through signed links that expire (restricted ones).

Public modules (the composition root and the rest of `issuer` use them):

- `api`: the routes (`upload_router`: the responsible operator uploads; `public_router`: a
  battery's document list and each document).
- `library`: adding a battery's documents and listing them (for `relatedResource`, the page,
  and readers entitled to restricted tiers).
- `links`: signed, expiring links to restricted documents.
- `objectstore`: where the bytes live (`ObjectStore`: a local folder or an S3 bucket;
  `open_store` from the settings).
- `errors`: the documents' problem types.

Internal (used only inside `issuer`): `tables` (the documents table; `issuer.tables` imports it
so that its migration sees it, and the backup pusher reads it).
"""

__all__ = ["api", "errors", "library", "links", "objectstore"]
