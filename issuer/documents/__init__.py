"""Documents of a battery (declarations of conformity, test reports, dismantling and safety
information): stored content-addressed in an object store, listed by the next passport version
under VC 2.0 `relatedResource` with `digestSRI` and `mediaType`, served at stable URLs (public
ones) or through signed links that expire (restricted ones)."""
