// Placeholder so the module library has a source until its files land; delete when adding real sources.
