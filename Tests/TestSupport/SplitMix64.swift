// The seeded generator the tests share lives with the other building blocks.
@_exported import struct RTCCollections.SplitMix64
