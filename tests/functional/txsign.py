"""Build and sign sbx transactions in Python, for submitrawtx tests.

The canonical encoding of ledger/tx.h (version 2: an auth byte after the type; big-endian
integers, u8-length strings, u16 for free text) and BIP340 Schnorr signatures over the txid (the "sbx/tx" tagged hash of the unsigned
encoding). The signer is the reference algorithm of BIP340 in plain Python: slow (a few ms) and
not constant-time, which is fine for tests. Standard library only.
"""

import hashlib
import os
import struct

P = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEFFFFFC2F
N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
G = (0x79BE667EF9DCBBAC55A06295CE870B07029BFCDB2DCE28D959F2815B16F81798,
     0x483ADA7726A3C4655DA4FBFC0E1108A8FD17B448A68554199C47D08FFB10D4B8)

TX_VERSION = 2
AUTH_SIG = 0    # a signature follows the body
AUTH_BLOCK = 1  # no signature: valid only inside a block of its signer
ACCOUNT_OPEN = 1
TRADE = 5
DIRECTIVE = 6

CLASSES = {"domestic_individual": 1, "domestic_org": 2, "foreign_individual": 3,
           "foreign_org": 4}
DIRECTIVES = {"halt": 1, "resume": 2, "freeze": 3, "unfreeze": 4, "set_param": 5,
              "licence_extend": 6, "licence_suspend": 7, "licence_wind_down": 8,
              "licence_revoke": 9, "licence_reinstate": 10, "sanction_add": 11,
              "sanction_remove": 12}

# The devnet's embedded regulator key (node/devnet.c): public on purpose, devnet only.
DEVNET_REGULATOR_SECRET = hashlib.sha256(
    b"sbx devnet regulator key 1 (public; never use outside a devnet)").digest()


def tagged_hash(tag, msg):
    t = hashlib.sha256(tag.encode()).digest()
    return hashlib.sha256(t + t + msg).digest()


def _add(p1, p2):
    if p1 is None:
        return p2
    if p2 is None:
        return p1
    if p1[0] == p2[0] and p1[1] != p2[1]:
        return None
    if p1 == p2:
        lam = 3 * p1[0] * p1[0] * pow(2 * p1[1], P - 2, P) % P
    else:
        lam = (p2[1] - p1[1]) * pow(p2[0] - p1[0], P - 2, P) % P
    x = (lam * lam - p1[0] - p2[0]) % P
    return (x, (lam * (p1[0] - x) - p1[1]) % P)


def _mul(p, n):
    r = None
    for i in range(256):
        if (n >> i) & 1:
            r = _add(r, p)
        p = _add(p, p)
    return r


def pubkey(secret):
    """The 32-byte x-only public key of a 32-byte secret."""
    d = int.from_bytes(secret, "big")
    assert 1 <= d < N
    return _mul(G, d)[0].to_bytes(32, "big")


def schnorr_sign(msg, secret, aux=None):
    """BIP340 signature of a 32-byte message."""
    d0 = int.from_bytes(secret, "big")
    assert 1 <= d0 < N and len(msg) == 32
    pt = _mul(G, d0)
    d = d0 if pt[1] % 2 == 0 else N - d0
    aux = aux if aux is not None else os.urandom(32)
    t = (d ^ int.from_bytes(tagged_hash("BIP0340/aux", aux), "big")).to_bytes(32, "big")
    px = pt[0].to_bytes(32, "big")
    k0 = int.from_bytes(tagged_hash("BIP0340/nonce", t + px + msg), "big") % N
    assert k0 != 0
    r = _mul(G, k0)
    k = k0 if r[1] % 2 == 0 else N - k0
    rx = r[0].to_bytes(32, "big")
    e = int.from_bytes(tagged_hash("BIP0340/challenge", rx + px + msg), "big") % N
    return rx + ((k + e * d) % N).to_bytes(32, "big")


def _str8(s):
    b = s.encode()
    assert len(b) < 256
    return struct.pack(">B", len(b)) + b


def _str16(s):
    b = s.encode()
    return struct.pack(">H", len(b)) + b


def _header(tx_type, signer, timestamp, auth=AUTH_SIG):
    return struct.pack(">BBB", TX_VERSION, tx_type, auth) + signer + struct.pack(">q", timestamp)


def account_open_body(account, tier, investor_class, country, kyc_ref, bank_ref):
    return (_str8(account) + struct.pack(">BB", tier, CLASSES[investor_class]) + _str8(country)
            + bytes.fromhex(kyc_ref) + bytes.fromhex(bank_ref))


def trade_body(trade_id, buyer, seller, asset, quantity, price, fee_buyer, fee_seller,
               executed_at, buyer_order="", seller_order=""):
    return (_str8(trade_id) + _str8(buyer) + _str8(seller) + _str8(asset)
            + struct.pack(">qqqqq", quantity, price, fee_buyer, fee_seller, executed_at)
            + _str8(buyer_order) + _str8(seller_order))


def directive_body(kind, asset="", account="", address="", name="", value=0, reason="",
                   legal_basis=""):
    return (struct.pack(">B", DIRECTIVES[kind]) + _str8(asset) + _str8(account) + _str8(address)
            + _str8(name) + struct.pack(">q", value) + _str16(reason) + _str16(legal_basis))


def sign_tx(tx_type, body, secret, timestamp):
    """The signed encoding (bytes) and txid (hex) of a transaction."""
    unsigned = _header(tx_type, pubkey(secret), timestamp) + body
    txid = tagged_hash("sbx/tx", unsigned)
    raw = unsigned + schnorr_sign(txid, secret)
    if tx_type == DIRECTIVE:
        raw += b"\x00"  # no cosigners
    return raw, txid.hex()


def block_auth_tx(tx_type, body, signer, timestamp):
    """The encoding (bytes) and txid (hex) of a block-authenticated transaction by the 32-byte
    key `signer`: no signature, valid only inside a block that `signer` produced."""
    raw = _header(tx_type, signer, timestamp, AUTH_BLOCK) + body
    return raw, tagged_hash("sbx/tx", raw).hex()


def read_key(path):
    """A key file: 64 lowercase hex digits and a newline."""
    with open(path) as f:
        return bytes.fromhex(f.read().strip())
