//! The City service (`city.proto`): a thin layer over [`crate::city::City`], each question
//! answered on a blocking thread (it reads every followed log's state and store).

use std::sync::Arc;

use tonic::{Request, Response, Status};

use crate::city::City;
use crate::proto;
use crate::proto::city_server;

/// The City service of a city view.
#[derive(Clone)]
pub struct CityService {
    city: Arc<City>,
}

impl CityService {
    /// A service over `city`.
    pub fn new(city: Arc<City>) -> CityService {
        CityService { city }
    }

    /// Runs `f` on the city on a blocking thread.
    async fn blocking<T: Send + 'static>(
        &self,
        f: impl FnOnce(&City) -> Result<T, Status> + Send + 'static,
    ) -> Result<Response<T>, Status> {
        let city = self.city.clone();
        tokio::task::spawn_blocking(move || f(&city))
            .await
            .map_err(|e| Status::internal(format!("city task failed: {e}")))?
            .map(Response::new)
    }
}

#[tonic::async_trait]
impl city_server::City for CityService {
    async fn sources(
        &self,
        request: Request<proto::CitySourcesRequest>,
    ) -> Result<Response<proto::CitySourcesResponse>, Status> {
        self.blocking(move |c| c.list(&request)).await
    }

    async fn teacher_history(
        &self,
        request: Request<proto::CityTeacherHistoryRequest>,
    ) -> Result<Response<proto::CityTeacherHistoryResponse>, Status> {
        self.blocking(move |c| c.teacher_history(request)).await
    }

    async fn eligibility(
        &self,
        request: Request<proto::CityEligibilityRequest>,
    ) -> Result<Response<proto::CityEligibilityResponse>, Status> {
        self.blocking(move |c| c.eligibility(request)).await
    }
}
