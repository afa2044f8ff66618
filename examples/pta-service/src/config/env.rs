//! The `PTA_*` environment overrides (see the module docs for the table).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;

use super::{Config, ConfigError};

impl Config {
    /// Applies the environment overrides (see the module docs).
    ///
    /// # Errors
    ///
    /// [`ConfigError::Env`] for a value that does not parse.
    pub fn apply_env(&mut self, env: &HashMap<String, String>) -> Result<(), ConfigError> {
        if let Some(dir) = env.get("PTA_DATA_DIR") {
            if dir.is_empty() {
                return Err(ConfigError::Env {
                    var: "PTA_DATA_DIR",
                    reason: "empty",
                });
            }
            self.data_dir = PathBuf::from(dir);
        }
        let addr = |var: &'static str| -> Result<Option<SocketAddr>, ConfigError> {
            env.get(var)
                .map(|v| {
                    v.trim().parse().map_err(|_| ConfigError::Env {
                        var,
                        reason: "expected an address like 0.0.0.0:8443 or [::]:8443",
                    })
                })
                .transpose()
        };
        if let Some(a) = addr("PTA_AGENT_LISTEN")? {
            self.agent.listen = a;
        }
        if let Some(a) = addr("PTA_REGISTRATION_LISTEN")? {
            self.registration.listen = a;
        }
        if let Some(a) = addr("PTA_API_LISTEN")? {
            self.api.listen = a;
        }
        if let Some(file) = env.get("PTA_LOCKOUT_SECRET_FILE") {
            if file.is_empty() {
                return Err(ConfigError::Env {
                    var: "PTA_LOCKOUT_SECRET_FILE",
                    reason: "empty",
                });
            }
            self.lockout.secret_file = Some(PathBuf::from(file));
        }
        if let Some(level) = env.get("PTA_LOG") {
            self.log.level = level.clone();
        }
        if let Some(json) = env.get("PTA_LOG_JSON") {
            self.log.json = match json.trim().to_ascii_lowercase().as_str() {
                "1" | "true" | "yes" | "on" => true,
                "0" | "false" | "no" | "off" | "" => false,
                _ => {
                    return Err(ConfigError::Env {
                        var: "PTA_LOG_JSON",
                        reason: "expected true or false",
                    });
                }
            };
        }
        Ok(())
    }
}
