/*
 * The offline bundle (docs/format.md, "Offline bundle"): one file carrying a
 * signed release, optionally its keys file, and for each payload its
 * chunk-digest list and its artifact (the bytes a device would download:
 * the ciphertext when encrypted).
 *
 *   magic    8 bytes  "ALBUNDL1"
 *   hlen     u32 BE   length of the header, 1 .. AIRLOCK_BUNDLE_HEADER_MAX
 *   header   hlen bytes of deterministic CBOR:
 *     { 1: release (bstr, the signed release file),
 *       2: keys (bstr, the release's keys file; only for encrypted releases, optional),
 *       3: [ + [ name (tstr), chunks_off (uint), chunks_len (uint),
 *               artifact_off (uint), artifact_len (uint) ] ] }
 *   data     the regions the header points to (absolute file offsets, each
 *            after the header and within the file)
 *
 * Nothing in the bundle is trusted for being there: the release is verified
 * against the device's root; each list against the digest the release signs;
 * each chunk of each artifact against its list entry (and its GCM tag)
 * before it is written; the keys file only yields a key that opens the
 * signed ciphertext. The header is a table of contents, nothing more.
 */
#ifndef AIRLOCK_BUNDLE_FORMAT_H
#define AIRLOCK_BUNDLE_FORMAT_H

#define AIRLOCK_BUNDLE_MAGIC "ALBUNDL1"
#define AIRLOCK_BUNDLE_MAGIC_LEN 8
#define AIRLOCK_BUNDLE_PREFIX_LEN 12    /* magic + hlen */
#define AIRLOCK_BUNDLE_HEADER_MAX (192u * 1024u)

enum {
	AIRLOCK_BUNDLE_KEY_RELEASE = 1,
	AIRLOCK_BUNDLE_KEY_KEYS = 2,
	AIRLOCK_BUNDLE_KEY_PAYLOADS = 3,
};

#endif
