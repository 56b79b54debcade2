use bytes::Bytes;

use crate::{error::ChannelError, packet::SLICE_SIZE};

#[derive(Debug, Clone)]
pub struct SliceConstructor {
    message_id: u64,
    pub num_slices: usize,
    num_received_slices: usize,
    received: Vec<bool>,
    sliced_data: Vec<u8>,
}

impl SliceConstructor {
    /// The memory reserved for a message of `num_slices` slices while it
    /// is put together.
    pub fn reserved_bytes(num_slices: usize) -> usize {
        num_slices.saturating_mul(SLICE_SIZE)
    }

    pub fn new(message_id: u64, num_slices: usize) -> Self {
        SliceConstructor {
            message_id,
            num_slices,
            num_received_slices: 0,
            received: vec![false; num_slices],
            sliced_data: vec![0; Self::reserved_bytes(num_slices)],
        }
    }

    /// Takes slice `slice_index` of a message the sender cut into `num_slices`.
    ///
    /// Every slice of a message must name the same number of slices and an
    /// index below it: the peer chooses both, and a slice that contradicts the
    /// first one is refused rather than trusted.
    pub fn process_slice(&mut self, slice_index: usize, num_slices: usize, bytes: &[u8]) -> Result<Option<Bytes>, ChannelError> {
        if num_slices != self.num_slices {
            log::debug!(
                "Invalid slice for SliceMessage {}: it names {} slices, the first named {}.",
                self.message_id,
                num_slices,
                self.num_slices
            );
            return Err(ChannelError::InvalidSliceMessage);
        }
        if slice_index >= self.num_slices {
            log::debug!(
                "Invalid slice index {} for SliceMessage {} of {} slices.",
                slice_index,
                self.message_id,
                self.num_slices
            );
            return Err(ChannelError::InvalidSliceMessage);
        }
        let is_last_slice = slice_index == self.num_slices - 1;
        if is_last_slice {
            if bytes.len() > SLICE_SIZE {
                log::debug!(
                    "Invalid last slice_size for SliceMessage, got {}, expected less than {}.",
                    bytes.len(),
                    SLICE_SIZE,
                );
                return Err(ChannelError::InvalidSliceMessage);
            }
        } else if bytes.len() != SLICE_SIZE {
            log::debug!("Invalid slice_size for SliceMessage, got {}, expected {}.", bytes.len(), SLICE_SIZE);
            return Err(ChannelError::InvalidSliceMessage);
        }

        if !self.received[slice_index] {
            self.received[slice_index] = true;
            self.num_received_slices += 1;

            if is_last_slice {
                let len = (self.num_slices - 1) * SLICE_SIZE + bytes.len();
                self.sliced_data.resize(len, 0);
            }

            let start = slice_index * SLICE_SIZE;
            let end = if slice_index == self.num_slices - 1 {
                (self.num_slices - 1) * SLICE_SIZE + bytes.len()
            } else {
                (slice_index + 1) * SLICE_SIZE
            };

            self.sliced_data[start..end].copy_from_slice(bytes);
            log::trace!(
                "Received slice {} from message {}. ({}/{})",
                slice_index,
                self.message_id,
                self.num_received_slices,
                self.num_slices
            );
        }

        if self.num_received_slices == self.num_slices {
            log::trace!("Received all slices for message {}.", self.message_id);
            let payload = std::mem::take(&mut self.sliced_data);
            return Ok(Some(payload.into()));
        }

        Ok(None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slices_that_contradict_the_message_are_refused() {
        let mut constructor = SliceConstructor::new(0, 2);
        // An index at or past the count, whatever count it names.
        assert_eq!(constructor.process_slice(2, 2, &[0; SLICE_SIZE]), Err(ChannelError::InvalidSliceMessage));
        assert_eq!(constructor.process_slice(999_999, 2, &[0; SLICE_SIZE]), Err(ChannelError::InvalidSliceMessage));
        // An index in range for its own count but not for the message's.
        assert_eq!(
            constructor.process_slice(999_999, 1_000_000, &[0; SLICE_SIZE]),
            Err(ChannelError::InvalidSliceMessage)
        );
        assert_eq!(constructor.process_slice(1, 3, &[0; SLICE_SIZE]), Err(ChannelError::InvalidSliceMessage));
        // The message itself still goes together.
        assert_eq!(constructor.process_slice(0, 2, &[1; SLICE_SIZE]), Ok(None));
        let message = constructor.process_slice(1, 2, &[2; 10]).unwrap().unwrap();
        assert_eq!(message.len(), SLICE_SIZE + 10);
    }
}
