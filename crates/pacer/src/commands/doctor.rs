//! `pacer doctor`.
use crate::cli::DoctorArgs;
use crate::error::Error;

pub fn doctor(_args: DoctorArgs) -> Result<i32, Error> {
    Ok(0)
}
