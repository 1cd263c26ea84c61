pub async fn run(
    _url: &str,
    _loans: usize,
    _days: u32,
    _seed: u64,
    _policy: &huifang_core::policy::Policy,
) -> anyhow::Result<()> {
    anyhow::bail!("todo")
}
