//! The request frame bounds of the patched Shotover Kafka codec (vendor/shotover, issue 13),
//! driven through a source connection's decoder and encoder halves without a network: frames
//! are refused by their declared length alone, and the smaller pre-authentication bound lifts
//! only when the answer to the mechanism's last SASL token accepts it.

use bytes::{BufMut, Bytes, BytesMut};
use kafka_protocol::messages::{
    ApiKey, RequestHeader, ResponseHeader, SaslAuthenticateRequest, SaslAuthenticateResponse,
    SaslHandshakeRequest,
};
use kafka_protocol::protocol::{Encodable, StrBytes};
use shotover::codec::kafka::{
    KafkaCodecBuilder, KafkaCodecState, KafkaDecoder, KafkaEncoder, RequestLimits,
};
use shotover::codec::{CodecBuilder, CodecReadError, CodecState, Direction};
use shotover::message::Message;
use tokio_util::codec::{Decoder, Encoder};

const SASL_LISTENER: RequestLimits = RequestLimits {
    max_request_bytes: 104_857_600,
    max_unauthenticated_request_bytes: Some(524_288),
};

fn codec(limits: Option<RequestLimits>) -> (KafkaDecoder, KafkaEncoder) {
    let builder = KafkaCodecBuilder::new(Direction::Source, "frame-bounds".into());
    match limits {
        Some(limits) => builder.with_request_limits(limits).build(),
        None => builder.build(),
    }
}

fn refusal(result: Result<Option<Vec<Message>>, CodecReadError>) -> String {
    match result {
        Err(CodecReadError::Parser(e)) => e.to_string(),
        Err(e) => panic!("not a parse error: {e:?}"),
        Ok(m) => panic!("accepted: {} messages", m.map_or(0, |m| m.len())),
    }
}

/// Only the 4 length bytes of a frame declaring `declared` bytes.
fn declaring(declared: u32) -> BytesMut {
    BytesMut::from(&declared.to_be_bytes()[..])
}

fn frame(body: &[u8]) -> BytesMut {
    let mut buf = BytesMut::new();
    buf.put_u32(body.len() as u32);
    buf.put_slice(body);
    buf
}

fn request<B: Encodable>(key: ApiKey, version: i16, body: &B) -> BytesMut {
    let mut buf = BytesMut::new();
    RequestHeader::default()
        .with_request_api_key(key as i16)
        .with_request_api_version(version)
        .with_correlation_id(1)
        .encode(&mut buf, key.request_header_version(version))
        .unwrap();
    body.encode(&mut buf, version).unwrap();
    frame(&buf)
}

fn handshake(decoder: &mut KafkaDecoder, mechanism: &str) {
    let body =
        SaslHandshakeRequest::default().with_mechanism(StrBytes::from_string(mechanism.into()));
    let mut src = request(ApiKey::SaslHandshake, 1, &body);
    assert!(decoder.decode(&mut src).unwrap().is_some());
}

fn token(decoder: &mut KafkaDecoder) {
    let body = SaslAuthenticateRequest::default().with_auth_bytes(Bytes::from_static(b"token"));
    let mut src = request(ApiKey::SaslAuthenticate, 2, &body);
    assert!(decoder.decode(&mut src).unwrap().is_some());
}

/// The broker's SaslAuthenticate v2 answer, as the sink hands it to the source's encoder.
fn answer(encoder: &mut KafkaEncoder, error_code: i16) {
    let mut buf = BytesMut::new();
    ResponseHeader::default()
        .with_correlation_id(1)
        .encode(
            &mut buf,
            ApiKey::SaslAuthenticate.response_header_version(2),
        )
        .unwrap();
    SaslAuthenticateResponse::default()
        .with_error_code(error_code)
        .encode(&mut buf, 2)
        .unwrap();
    let state = CodecState::Kafka(KafkaCodecState {
        request_header: Some(shotover::codec::kafka::RequestHeader {
            api_key: ApiKey::SaslAuthenticate,
            version: 2,
        }),
        raw_sasl: false,
    });
    let message = Message::from_bytes(frame(&buf).freeze(), state);
    encoder.encode(vec![message], &mut BytesMut::new()).unwrap();
}

#[test]
fn a_frame_over_the_bound_is_refused_at_its_length() {
    let (mut decoder, _) = codec(None);
    let why = refusal(decoder.decode(&mut declaring(2 << 30)));
    assert!(
        why.contains("declaring 2147483648 bytes: max_request_bytes is 104857600"),
        "{why}"
    );
    let (mut decoder, _) = codec(None);
    assert!(
        decoder.decode(&mut declaring(100 << 20)).unwrap().is_none(),
        "at the bound: wait"
    );
}

#[test]
fn short_frames_and_unknown_api_keys_are_refused_without_a_panic() {
    for body in [&b""[..], b"A", b"\x27\x0f\0\0\0\0\0\x01\xff\xff"] {
        let (mut decoder, _) = codec(None);
        let why = refusal(decoder.decode(&mut frame(body)));
        assert!(
            why.contains("shorter than a request header") || why.contains("unknown api key 9999"),
            "{why}"
        );
    }
}

#[test]
fn without_sasl_only_the_general_bound_applies() {
    let (mut decoder, _) = codec(None);
    assert!(decoder.decode(&mut declaring(700 << 10)).unwrap().is_none());
}

#[test]
fn plain_lifts_the_pre_auth_bound_only_when_accepted() {
    let (mut decoder, mut encoder) = codec(Some(SASL_LISTENER));
    let why = refusal(decoder.decode(&mut declaring(700 << 10)));
    assert!(
        why.contains("max_unauthenticated_request_bytes is 524288"),
        "{why}"
    );
    handshake(&mut decoder, "PLAIN");
    token(&mut decoder);
    answer(&mut encoder, 58); // SASL_AUTHENTICATION_FAILED
    refusal(decoder.decode(&mut declaring(700 << 10)));

    let (mut decoder, mut encoder) = codec(Some(SASL_LISTENER));
    handshake(&mut decoder, "PLAIN");
    token(&mut decoder);
    answer(&mut encoder, 0);
    assert!(decoder.decode(&mut declaring(700 << 10)).unwrap().is_none());
    let why = refusal(decoder.decode(&mut declaring(200 << 20)));
    assert!(why.contains("max_request_bytes is 104857600"), "{why}");
}

#[test]
fn scram_lifts_the_pre_auth_bound_after_its_final_answer() {
    let (mut decoder, mut encoder) = codec(Some(SASL_LISTENER));
    handshake(&mut decoder, "SCRAM-SHA-256");
    token(&mut decoder);
    answer(&mut encoder, 0); // server-first, also error code 0: not yet authenticated
    refusal(decoder.decode(&mut declaring(700 << 10)));
    token(&mut decoder);
    answer(&mut encoder, 0);
    assert!(decoder.decode(&mut declaring(700 << 10)).unwrap().is_none());
}

#[test]
fn an_unfollowed_mechanism_keeps_the_pre_auth_bound() {
    let (mut decoder, mut encoder) = codec(Some(SASL_LISTENER));
    handshake(&mut decoder, "OAUTHBEARER");
    token(&mut decoder);
    answer(&mut encoder, 0);
    refusal(decoder.decode(&mut declaring(700 << 10)));
}
