//! `injector mock-server`: the built-in stand-in, on its own, until Ctrl-C.

use crate::cli::MockServerArgs;
use crate::error::{Error, Exit};
use crate::{stand_in, term};

pub async fn mock_server(args: MockServerArgs) -> Result<Exit, Error> {
    let token = match (args.token, &args.token_file) {
        (Some(token), _) => token,
        (None, Some(path)) => super::read_token_file(path)?,
        (None, None) => {
            let token = stand_in::random_token();
            eprintln!("stand-in token: {token}");
            token
        }
    };
    let world = match &args.world {
        Some(path) => stand_in::World::load(path).map_err(|e| {
            Error::usage(
                format!("cannot read the world file: {e}"),
                Some("see the README for the world file format"),
            )
        })?,
        None => stand_in::World::default(),
    };
    if args.fail_rate + args.throttle_rate + args.drop_rate > 1.0 {
        return Err(Error::usage(
            "--fail-rate, --throttle-rate and --drop-rate add up to more than 1",
            None,
        ));
    }
    let listen = super::listen_address("--listen", &args.listen, "127.0.0.1:8787").await?;
    let base_path = format!("/{}", args.base_path.trim_matches('/'));
    let opts = stand_in::Options {
        listen,
        base_path,
        token,
        world,
        record: args.record.clone(),
        faults: stand_in::Faults {
            fail_rate: args.fail_rate,
            throttle_rate: args.throttle_rate,
            drop_rate: args.drop_rate,
            latency: args.latency,
            seed: args.seed,
            close_refused: args.close_refused,
            idle_close: args.idle_close,
            refuse_once: args.refuse_once.clone(),
            unavailable_first: 0,
        },
        link_ttl: args.link_ttl,
        check_ids: args.check_ids,
        personas_archive: None,
        archive_trickle: None,
        kept_records: stand_in::KEPT_RECORDS,
    };
    let server = stand_in::StandIn::start(opts)
        .await
        .map_err(|e| super::cannot_listen("--listen", listen, e))?;
    super::write_output(None, &format!("{}\n", server.base_url()))?;
    tracing::info!(url = %server.base_url(), record = ?args.record, "stand-in listening; Ctrl-C stops it");
    term::interrupted().await;
    tracing::info!("stopping: finishing open requests and flushing the record");
    server.shutdown(std::time::Duration::from_secs(5)).await;
    Ok(Exit::Ok)
}
