//! An Arrow IPC stream (the engine's Arrow answer, as bytes in pieces of any size) as
//! Flight data: each IPC message is one `FlightData`, its flatbuffer header as
//! `data_header` and its body as `data_body`, cut from the bytes without decoding and
//! encoding the batches again.

use arrow_flight::FlightData;
use bytes::{Buf, BytesMut};
use futures::{Stream, StreamExt};
use lakeward_engine::ByteStream;
use tonic::Status;

use crate::error::ApiError;
use crate::flight::status::status;

const CONTINUATION: u32 = 0xFFFF_FFFF;

/// The next complete message in `buffer`: `Ok(None)` until one has fully arrived, and
/// `Ok(Some(None))` at the end-of-stream marker.
fn next_message(buffer: &mut BytesMut) -> Result<Option<Option<FlightData>>, Status> {
    if buffer.len() < 8 {
        return Ok(None);
    }
    let marker = u32::from_le_bytes(buffer[0..4].try_into().expect("4 bytes"));
    if marker != CONTINUATION {
        return Err(Status::internal("the answer is not an Arrow IPC stream"));
    }
    let metadata_len = i32::from_le_bytes(buffer[4..8].try_into().expect("4 bytes"));
    let metadata_len = usize::try_from(metadata_len).map_err(|_| Status::internal("bad IPC message length"))?;
    if metadata_len == 0 {
        buffer.advance(8);
        return Ok(Some(None));
    }
    if buffer.len() < 8 + metadata_len {
        return Ok(None);
    }
    let message = arrow::ipc::root_as_message(&buffer[8..8 + metadata_len])
        .map_err(|e| Status::internal(format!("bad IPC message: {e}")))?;
    let body_len = usize::try_from(message.bodyLength()).map_err(|_| Status::internal("bad IPC body length"))?;
    if buffer.len() < 8 + metadata_len + body_len {
        return Ok(None);
    }
    buffer.advance(8);
    let header = buffer.split_to(metadata_len).freeze();
    let body = buffer.split_to(body_len).freeze();
    Ok(Some(Some(FlightData { data_header: header, data_body: body, ..Default::default() })))
}

/// The messages of `ipc` as Flight data, as they arrive.
pub fn flight_data(ipc: ByteStream) -> impl Stream<Item = Result<FlightData, Status>> + Send {
    futures::stream::unfold((ipc, BytesMut::new(), false), |(mut ipc, mut buffer, done)| async move {
        if done {
            return None;
        }
        loop {
            match next_message(&mut buffer) {
                Ok(Some(Some(data))) => return Some((Ok(data), (ipc, buffer, false))),
                Ok(Some(None)) => return None,
                Err(e) => return Some((Err(e), (ipc, buffer, true))),
                Ok(None) => {}
            }
            match ipc.next().await {
                // A chunk that starts a message takes the buffer's place without a copy
                // (the engine's chunks hold whole messages, so this is the usual case).
                Some(Ok(chunk)) if buffer.is_empty() => buffer = BytesMut::from(chunk),
                Some(Ok(chunk)) => buffer.extend_from_slice(&chunk),
                Some(Err(e)) => return Some((Err(status(ApiError::from(e))), (ipc, buffer, true))),
                None if buffer.is_empty() => return None,
                None => {
                    return Some((Err(Status::internal("the Arrow answer ended mid-message")), (ipc, buffer, true)));
                }
            }
        }
    })
}
