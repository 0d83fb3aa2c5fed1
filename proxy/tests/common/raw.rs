//! A raw Kafka protocol client over plain TCP, for requests no real client sends (hostile
//! tests): one request at a time, header and body encoded with kafka-protocol; SASL PLAIN and
//! SCRAM-SHA-256 by hand (with attributes a real client would not send).

use bytes::{Bytes, BytesMut};
use hmac::{Hmac, Mac};
use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic};
use kafka_protocol::messages::metadata_request::MetadataRequestTopic;
use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use kafka_protocol::messages::{
    ApiKey, FetchRequest, FetchResponse, MetadataRequest, MetadataResponse, ProduceRequest,
    ProduceResponse, RequestHeader, ResponseHeader, SaslAuthenticateRequest,
    SaslAuthenticateResponse, SaslHandshakeRequest, SaslHandshakeResponse, TopicName,
};
use kafka_protocol::protocol::{Decodable, Encodable, StrBytes};
use sha2::{Digest, Sha256};
use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::time::Duration;

pub struct Raw {
    pub stream: TcpStream,
    pub client_id: String,
    correlation: i32,
}

impl Raw {
    pub fn connect(addr: &str, client_id: &str) -> Raw {
        let stream = TcpStream::connect(addr).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(60)))
            .unwrap();
        Raw {
            stream,
            client_id: client_id.into(),
            correlation: 0,
        }
    }

    /// Sends one request; returns its correlation id.
    pub fn send<Req: Encodable>(&mut self, key: ApiKey, version: i16, body: &Req) -> i32 {
        self.correlation += 1;
        let header = RequestHeader::default()
            .with_request_api_key(key as i16)
            .with_request_api_version(version)
            .with_correlation_id(self.correlation)
            .with_client_id(Some(StrBytes::from_string(self.client_id.clone())));
        let mut buf = BytesMut::new();
        header
            .encode(&mut buf, key.request_header_version(version))
            .unwrap();
        body.encode(&mut buf, version).unwrap();
        let mut frame = (buf.len() as u32).to_be_bytes().to_vec();
        frame.extend_from_slice(&buf);
        self.stream.write_all(&frame).unwrap();
        self.correlation
    }

    /// The next response's body, or the I/O error (a timeout: no answer in time).
    pub fn receive<Resp: Decodable>(&mut self, key: ApiKey, version: i16) -> std::io::Result<Resp> {
        let mut len = [0u8; 4];
        self.stream.read_exact(&mut len)?;
        let mut body = vec![0u8; u32::from_be_bytes(len) as usize];
        self.stream.read_exact(&mut body)?;
        let mut bytes = Bytes::from(body);
        ResponseHeader::decode(&mut bytes, key.response_header_version(version)).unwrap();
        Ok(Resp::decode(&mut bytes, version).unwrap())
    }

    pub fn call<Req: Encodable, Resp: Decodable>(
        &mut self,
        key: ApiKey,
        version: i16,
        body: &Req,
    ) -> Resp {
        self.send(key, version, body);
        self.receive(key, version).unwrap()
    }

    pub fn sasl_handshake(&mut self, mechanism: &str) {
        let r: SaslHandshakeResponse = self.call(
            ApiKey::SaslHandshake,
            1,
            &SaslHandshakeRequest::default()
                .with_mechanism(StrBytes::from_string(mechanism.into())),
        );
        assert_eq!(r.error_code, 0, "handshake {mechanism}");
    }

    pub fn sasl_authenticate(&mut self, bytes: &[u8]) -> SaslAuthenticateResponse {
        self.call(
            ApiKey::SaslAuthenticate,
            2,
            &SaslAuthenticateRequest::default().with_auth_bytes(Bytes::copy_from_slice(bytes)),
        )
    }

    pub fn fetch_by_name(&mut self, topic: &str, max_bytes: i32) -> FetchResponse {
        self.fetch_at(&[(topic, 0)], max_bytes)
    }

    /// One Fetch (v12, by name) of partition 0 of each topic from its offset, `max_bytes` for
    /// the response and for each partition.
    pub fn fetch_at(&mut self, from: &[(&str, i64)], max_bytes: i32) -> FetchResponse {
        self.try_fetch_at(from, max_bytes).unwrap()
    }

    /// `fetch_at`, or the I/O error (a timeout: no answer within the read timeout).
    pub fn try_fetch_at(
        &mut self,
        from: &[(&str, i64)],
        max_bytes: i32,
    ) -> std::io::Result<FetchResponse> {
        let topics = from
            .iter()
            .map(|&(topic, offset)| {
                FetchTopic::default()
                    .with_topic(TopicName(StrBytes::from_string(topic.into())))
                    .with_partitions(vec![FetchPartition::default()
                        .with_partition(0)
                        .with_fetch_offset(offset)
                        .with_partition_max_bytes(max_bytes)])
            })
            .collect();
        let request = FetchRequest::default()
            .with_max_wait_ms(500)
            .with_min_bytes(1)
            .with_max_bytes(max_bytes)
            .with_topics(topics);
        self.send(ApiKey::Fetch, 12, &request);
        self.receive(ApiKey::Fetch, 12)
    }

    /// Produces `batch` to partition 0 of `topic`, retrying whatever error the broker answers.
    pub fn produce(&mut self, topic: &str, batch: Bytes) {
        let code = self.produce_retrying(topic, batch, |_| true);
        assert_eq!(code, 0, "produce to {topic} kept failing: error {code}");
    }

    /// Produces `batch` to partition 0 of `topic`; the broker's error code (0: stored). Only
    /// the errors of a topic being created are retried, so a batch the broker refuses is
    /// answered with the broker's reason.
    pub fn try_produce(&mut self, topic: &str, batch: Bytes) -> i16 {
        // Unknown topic or partition, leader not available, not leader.
        self.produce_retrying(topic, batch, |code| [3, 5, 6].contains(&code))
    }

    fn produce_retrying(&mut self, topic: &str, batch: Bytes, retry: impl Fn(i16) -> bool) -> i16 {
        let request = ProduceRequest::default()
            .with_acks(1)
            .with_timeout_ms(10_000)
            .with_topic_data(vec![TopicProduceData::default()
                .with_name(TopicName(StrBytes::from_string(topic.into())))
                .with_partition_data(vec![PartitionProduceData::default()
                    .with_index(0)
                    .with_records(Some(batch))])]);
        // A Metadata request creates the topic (the broker auto-creates on metadata only).
        let metadata = MetadataRequest::default()
            .with_allow_auto_topic_creation(true)
            .with_topics(Some(vec![MetadataRequestTopic::default()
                .with_name(Some(TopicName(StrBytes::from_string(topic.into()))))]));
        let mut code = 0;
        for _ in 0..20 {
            let _: MetadataResponse = self.call(ApiKey::Metadata, 9, &metadata);
            let r: ProduceResponse = self.call(ApiKey::Produce, 9, &request);
            let p = &r.responses[0].partition_responses[0];
            code = p.error_code;
            if code == 0 {
                return 0;
            }
            eprintln!(
                "produce: error {code} {:?} {:?}",
                p.error_message, p.record_errors
            );
            if !retry(code) {
                return code;
            }
            std::thread::sleep(Duration::from_millis(300));
        }
        code
    }

    pub fn plain(&mut self, user: &str, password: &str) {
        self.sasl_handshake("PLAIN");
        let r = self.sasl_authenticate(format!("\0{user}\0{password}").as_bytes());
        assert_eq!(r.error_code, 0, "PLAIN {user}: {:?}", r.error_message);
    }

    /// SCRAM-SHA-256 as `user`, with `extra` attributes put into the client-final message
    /// before the proof (Kafka accepts and ignores attributes there).
    pub fn scram(&mut self, user: &str, password: &str, extra: &str) {
        self.scram_with(user, password, "", extra)
    }

    /// `scram`, with `reserved` (e.g. "m=x,", RFC 5802's reserved attribute) before `n=` in the
    /// client-first message; Kafka leaves it out of the AuthMessage the proof covers.
    pub fn scram_with(&mut self, user: &str, password: &str, reserved: &str, extra: &str) {
        self.sasl_handshake("SCRAM-SHA-256");
        self.scram_exchange(user, password, reserved, extra, |raw, token| {
            let r = raw.sasl_authenticate(token);
            assert_eq!(r.error_code, 0, "SCRAM: {:?}", r.error_message);
            r.auth_bytes.to_vec()
        })
    }

    /// SCRAM-SHA-256 after a version 0 SaslHandshake: the tokens travel as raw length-prefixed
    /// frames, not in SaslAuthenticate requests (what pre-1.0 clients do).
    pub fn scram_raw_v0(&mut self, user: &str, password: &str) {
        let r: SaslHandshakeResponse = self.call(
            ApiKey::SaslHandshake,
            0,
            &SaslHandshakeRequest::default()
                .with_mechanism(StrBytes::from_static_str("SCRAM-SHA-256")),
        );
        assert_eq!(r.error_code, 0, "handshake v0");
        self.scram_exchange(user, password, "", "", |raw, token| {
            let mut frame = (token.len() as u32).to_be_bytes().to_vec();
            frame.extend_from_slice(token);
            raw.stream.write_all(&frame).unwrap();
            let mut len = [0u8; 4];
            raw.stream.read_exact(&mut len).unwrap();
            let mut answer = vec![0u8; u32::from_be_bytes(len) as usize];
            raw.stream.read_exact(&mut answer).unwrap();
            answer
        })
    }

    fn scram_exchange(
        &mut self,
        user: &str,
        password: &str,
        reserved: &str,
        extra: &str,
        exchange: impl Fn(&mut Raw, &[u8]) -> Vec<u8>,
    ) {
        let cnonce = super::rand_suffix();
        let first_bare = format!("n={user},r={cnonce:08x}");
        let answer = exchange(self, format!("n,,{reserved}{first_bare}").as_bytes());
        let server_first = String::from_utf8(answer).unwrap();
        let attr = |k: &str| {
            server_first
                .split(',')
                .find_map(|f| f.strip_prefix(k))
                .unwrap()
                .to_string()
        };
        let (snonce, salt, iterations) = (attr("r="), attr("s="), attr("i="));
        let salt = base64_decode(&salt);
        let salted = hi(password.as_bytes(), &salt, iterations.parse().unwrap());
        let client_key = hmac(&salted, b"Client Key");
        let stored_key = Sha256::digest(client_key);
        let without_proof = format!("c=biws,r={snonce}");
        let auth_message = format!("{first_bare},{server_first},{without_proof}");
        let signature = hmac(&stored_key, auth_message.as_bytes());
        let proof: Vec<u8> = client_key
            .iter()
            .zip(signature.iter())
            .map(|(a, b)| a ^ b)
            .collect();
        let fin = format!("{without_proof}{extra},p={}", base64_encode(&proof));
        exchange(self, fin.as_bytes());
    }
}

type HmacSha256 = Hmac<Sha256>;

fn hmac(key: &[u8], data: &[u8]) -> [u8; 32] {
    let mut m = <HmacSha256 as Mac>::new_from_slice(key).unwrap();
    m.update(data);
    m.finalize().into_bytes().into()
}

/// RFC 5802 Hi(): PBKDF2 with HMAC-SHA-256, one block.
fn hi(password: &[u8], salt: &[u8], iterations: u32) -> [u8; 32] {
    let mut u = hmac(password, &[salt, &1u32.to_be_bytes()].concat());
    let mut out = u;
    for _ in 1..iterations {
        u = hmac(password, &u);
        out.iter_mut().zip(u.iter()).for_each(|(o, x)| *o ^= x);
    }
    out
}

const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

fn base64_encode(data: &[u8]) -> String {
    let mut out = String::new();
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(B64[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

fn base64_decode(text: &str) -> Vec<u8> {
    let mut bits = 0u32;
    let mut n = 0;
    let mut out = Vec::new();
    for c in text.bytes().filter(|&c| c != b'=') {
        let v = B64.iter().position(|&x| x == c).unwrap() as u32;
        bits = (bits << 6) | v;
        n += 6;
        if n >= 8 {
            n -= 8;
            out.push((bits >> n) as u8);
        }
    }
    out
}
