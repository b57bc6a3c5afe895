"""SNS message signatures (topics/signing.py): made once in the data dir, verifiable with the
certificate, and bound to the fields SNS signs; and the outbox's backoff."""

from __future__ import annotations

import stat
from pathlib import Path

from stratus.topics import messages, outbox
from stratus.topics.signing import CERT_FILE, KEY_FILE, Signer, canonical, verify


def test_a_signature_verifies_with_the_certificate(tmp_path: Path) -> None:
    signer = Signer(tmp_path)
    assert stat.S_IMODE((tmp_path / KEY_FILE).stat().st_mode) == 0o600
    signed = messages.notification(
        message_id="m-1",
        topic_arn="arn:aws:sns:us-east-1:000000000000:t",
        subject=None,
        message="hi",
        timestamp="T",
    )
    env = messages.envelope(signed, signer.sign(signed), "cert", "unsub", {})
    assert verify(signer.certificate_pem, env)
    assert not verify(signer.certificate_pem, {**env, "Message": "other"})
    assert not verify(signer.certificate_pem, {**env, "Subject": "added"})
    # The same key and certificate on the next start.
    again = Signer(tmp_path)
    assert again.certificate_pem == (tmp_path / CERT_FILE).read_bytes() == signer.certificate_pem
    assert verify(again.certificate_pem, {**env, "Signature": again.sign(signed)})


def test_canonical_string_follows_sns_order() -> None:
    text = canonical(
        {"Type": "Notification", "TopicArn": "a", "Message": "m", "MessageId": "i", "Timestamp": "t"}
    )
    assert text == b"Message\nm\nMessageId\ni\nTimestamp\nt\nTopicArn\na\nType\nNotification\n"
    confirm = canonical(
        {
            "Type": "SubscriptionConfirmation",
            "Token": "k",
            "SubscribeURL": "u",
            "Message": "m",
            "MessageId": "i",
            "Timestamp": "t",
            "TopicArn": "a",
        }
    )
    assert confirm.startswith(b"Message\nm\nMessageId\ni\nSubscribeURL\nu\nTimestamp\nt\nToken\nk\n")


def test_backoff_doubles_up_to_the_maximum() -> None:
    assert [outbox.backoff_ms(n, 1000, 5000) for n in (1, 2, 3, 4)] == [1000, 2000, 4000, 5000]
