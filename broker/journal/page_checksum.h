// Internal to the journal: the per-page checksum of format 3 (docs/journal-format.md §1.1).
//
// Every database page ends with kPageChecksumBytes reserved bytes (the SQLite header's
// "reserved space" byte at offset 20) holding a 64-bit little-endian checksum of the rest of the
// page and of its page number, seeded with a constant. The checksum VFS (checksum_vfs.h) writes it
// on every page write and verifies it on every page read; the start-up scrub (integrity.h) checks
// every page of the file with the same function.
//
// Properties (tested in page_checksum_test.cc): any change confined to one aligned 8-byte word of
// the page, so every single bit flip, changes the checksum (each step of the computation is a
// bijection of the running state and of the word); the stored value is never 0, so an all-zero
// page never verifies; a page copied to another page number does not verify.
#ifndef RELAIS_BROKER_JOURNAL_PAGE_CHECKSUM_H_
#define RELAIS_BROKER_JOURNAL_PAGE_CHECKSUM_H_

#include <cstddef>
#include <cstdint>

namespace relais::journal::internal {

inline constexpr int kPageChecksumBytes = 8;
// Offset of the reserved-space byte in the SQLite database header.
inline constexpr size_t kHeaderReservedByte = 20;

// Whether `size` can be a SQLite page size (a power of two from 512 to 65536).
bool IsPageSize(int64_t size);
// The checksum of page number `pgno` (1-based) whose content is `page[0, size)`; the last
// kPageChecksumBytes bytes are not read. Never returns 0.
uint64_t PageChecksum(const uint8_t* page, size_t size, uint64_t pgno);
// Writes PageChecksum into the last kPageChecksumBytes bytes of the page.
void SealPage(uint8_t* page, size_t size, uint64_t pgno);
// Whether the stored checksum matches.
bool PageVerifies(const uint8_t* page, size_t size, uint64_t pgno);

}  // namespace relais::journal::internal

#endif  // RELAIS_BROKER_JOURNAL_PAGE_CHECKSUM_H_
