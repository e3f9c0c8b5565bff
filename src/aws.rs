//! The AWS settings every AWS client tfpilot builds starts from: the standard chain
//! (environment, profiles, SSO, instance roles), with the profile and region the config names.

pub(crate) async fn shared_config(
    profile: Option<&str>,
    region: Option<&str>,
) -> aws_config::SdkConfig {
    let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest());
    if let Some(profile) = profile {
        loader = loader.profile_name(profile);
    }
    if let Some(region) = region {
        loader = loader.region(aws_config::Region::new(region.to_string()));
    }
    loader.load().await
}
