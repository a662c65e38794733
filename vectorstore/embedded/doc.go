// Package embedded is deeprank's default vector store: files under one
// folder, exact search, nothing else to install.
//
// # Files
//
// Each collection is a folder holding a manifest, immutable segments and a
// log. A segment holds items sorted by id in columns (vectors, their
// norms, ids, classes, paths, metadata, and each vector's int8 code, which
// search scans in a quarter of the bytes and then scores exactly the rows
// its bounds cannot rule out), each checksummed, and is opened
// with mmap, so opening a collection reads its manifest and its small log
// only, and every process reading it shares one copy in the page cache.
// The log holds what was written since: one checksummed record per batch,
// whose header has a checksum of its own. When the log passes
// Options.CompactLogBytes, the writer moves it into a new segment (a
// flush); in the background, while it goes on taking writes, it merges
// segments of like size into one once eight pile up, so that they grow
// geometrically. Each step publishes its new set of files by replacing
// the manifest (temporary file, fsync, rename, fsync of the folder): a
// crash leaves the old set or the new one.
//
// An item of several vectors (vectorstore.Spec.Variants) keeps them one
// after another in its row, each with its norm; search scores the item by
// the nearest of them. Such a collection's manifest says format 3, which a
// deeprank that reads format 2 alone refuses. A collection whose vectors
// are partly learned (vectorstore.Spec.Learned) says format 4, so that a
// deeprank that does not know the field refuses it rather than drop it.
//
// # Durability and damage
//
// Upsert and Delete write their whole batch, fsync, and only then return:
// what they returned for survives kill -9 or a power loss. A write cut
// short at the end of the log (shorter than a record's header, a record
// whose payload is not all there, or zeros) was never acknowledged: a
// reader ignores it, and the next writer truncates it and says so through
// Options.Logf. Anything else that fails its checks is never skipped:
// opening the collection fails with ErrCorrupt and a *Damage naming the
// file and offset, and nothing is changed. Open checks the manifest, the
// masks, every log record and a segment's header, ids and index columns;
// the bulk of a segment (vectors, norms, codes, paths, metadata) is
// checked by Check, Repair and each compaction that reads it. Check
// verifies every byte, and every code against its vector; Repair keeps
// everything that verifies, writes a segment damaged only in its norms or
// codes again from its vectors, and keeps the damaged files under a
// second name, never deleting them.
//
// # Readers and the writer
//
// A store opened with Options.ReadOnly takes no lock: any number of
// processes read beside one writer, which holds the store's LOCK file
// (a second writer waits up to Options.LockWait, then gets ErrLocked with
// the holder's process id). A reader sees a batch whole or not at all, and
// on each call catches up with the files: records appended to the log,
// or a new manifest after a compaction, reindex (Rebuild: old items, then
// new, never none) or drop. Within a process, a Store and its collections
// are safe for concurrent use.
//
// # Format versions
//
// Collections of the format before segments (spec.json and one log) are
// migrated by the first writer that opens them; a reader asks for one
// (ErrOldFormat). This package writes format 5, whose segments carry
// codes, and reads formats 2 to 5: a segment written before codes is
// searched by its float32 vectors until a merge or a compaction (deeprank
// compact) rewrites it.
package embedded
