//! One place maps error kinds to HTTP statuses, as dockerd's errdefs do.

use serde::Serialize;

/// The class of an error, which decides its HTTP status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// 400: the request was malformed or asked for something invalid.
    InvalidParameter,
    /// 404: the object does not exist.
    NotFound,
    /// 401: a registry refused the credentials.
    Unauthorized,
    /// 403: the operation is not allowed on this object (a pre-defined network, one in use).
    Forbidden,
    /// 409: the object is in a state that forbids the request (name in use, running container).
    Conflict,
    /// 304: the request changed nothing (start a started container, stop a stopped one).
    NotModified,
    /// 500: anything else.
    System,
    /// 501: the object cannot do this (read the log of a driver that keeps none).
    NotImplemented,
}

impl ErrorKind {
    /// The HTTP status code dockerd answers with for this kind.
    pub fn status(self) -> u16 {
        match self {
            ErrorKind::InvalidParameter => 400,
            ErrorKind::NotFound => 404,
            ErrorKind::Unauthorized => 401,
            ErrorKind::Forbidden => 403,
            ErrorKind::Conflict => 409,
            ErrorKind::NotModified => 304,
            ErrorKind::System => 500,
            ErrorKind::NotImplemented => 501,
        }
    }
}

/// An error as the Engine API reports it: a status and `{"message": ...}`.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{message}")]
pub struct ApiError {
    pub kind: ErrorKind,
    pub message: String,
}

impl ApiError {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        ApiError {
            kind,
            message: message.into(),
        }
    }
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::NotFound, message)
    }
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::InvalidParameter, message)
    }
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Forbidden, message)
    }
    pub fn conflict(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Conflict, message)
    }
    pub fn system(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::System, message)
    }
    pub fn not_modified() -> Self {
        Self::new(ErrorKind::NotModified, "")
    }

    /// The JSON body dockerd sends with an error status.
    pub fn body(&self) -> Vec<u8> {
        #[derive(Serialize)]
        struct Body<'a> {
            message: &'a str,
        }
        serde_json::to_vec(&Body {
            message: &self.message,
        })
        .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_match_dockerd() {
        assert_eq!(ErrorKind::NotFound.status(), 404);
        assert_eq!(ErrorKind::Conflict.status(), 409);
        assert_eq!(ErrorKind::InvalidParameter.status(), 400);
        assert_eq!(ErrorKind::NotModified.status(), 304);
        assert_eq!(ErrorKind::System.status(), 500);
    }

    #[test]
    fn body_is_docker_json() {
        let e = ApiError::not_found("No such container: web");
        assert_eq!(e.body(), br#"{"message":"No such container: web"}"#);
    }
}
